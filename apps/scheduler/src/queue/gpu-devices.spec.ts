import fc from 'fast-check';
import {
  chooseDevices,
  DEVICE_LIST,
  DeviceLedger,
  devicesNeeded,
  heldDevices,
  parseDeviceList,
} from './gpu-devices';

describe('GPU devices', () => {
  it('parses MYELIN_GPU_DEVICES: ids separated by commas, empty means none, a repeated id once', () => {
    expect(parseDeviceList('0,1,2,3')).toEqual(['0', '1', '2', '3']);
    expect(parseDeviceList(' 2 , 0 ')).toEqual(['2', '0']);
    expect(parseDeviceList('GPU-8f3c1a2b-0000-1111-2222-333344445555,1')).toEqual([
      'GPU-8f3c1a2b-0000-1111-2222-333344445555',
      '1',
    ]);
    expect(parseDeviceList('')).toEqual([]);
    expect(parseDeviceList(undefined)).toEqual([]);
    expect(parseDeviceList('1,1,0')).toEqual(['1', '0']);
    expect(DEVICE_LIST.test('0,1, 2')).toBe(true);
    expect(DEVICE_LIST.test('')).toBe(true);
    expect(DEVICE_LIST.test('0;1')).toBe(false);
    expect(DEVICE_LIST.test('0,,1')).toBe(false);
    expect(DEVICE_LIST.test('$(reboot)')).toBe(false);
  });

  it('takes a whole device for a fraction of a GPU and none for zero', () => {
    expect([0, -1, Number.NaN, 0.5, 1, 1.2, 4].map(devicesNeeded)).toEqual([0, 0, 0, 1, 1, 2, 4]);
  });

  it('chooses free devices in the configured order, or none when too few are free', () => {
    expect(chooseDevices(['0', '1', '2', '3'], new Set(['1']), 2)).toEqual(['0', '2']);
    expect(chooseDevices(['0', '1'], new Set(['0']), 2)).toBeNull();
    expect(chooseDevices(['0', '1'], new Set(['0', '1']), 0)).toEqual([]);
    expect(chooseDevices([], new Set(), 1)).toBeNull();
  });

  it('rebuilds what live runs hold from their rows, and hands out each device once per pass', () => {
    const ledger = new DeviceLedger(
      ['0', '1', '2', '3'],
      [{ devices: ['2'] }, { devices: null }, { devices: ['9'] }],
    );
    expect(ledger.total).toBe(4);
    expect(ledger.free).toBe(3); // '9' is not configured any more: it does not count
    expect(ledger.take(2)).toEqual(['0', '1']);
    expect(ledger.take(0)).toEqual([]);
    expect(ledger.take(2)).toBeNull(); // only '3' is left
    expect(ledger.take(1)).toEqual(['3']);
    expect(ledger.free).toBe(0);
  });

  it('never puts two live runs on one device, whatever runs start and end (property)', () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('start' as const),
        gpu: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 4, noNaN: true })),
      }),
      fc.record({ kind: fc.constant('end' as const), index: fc.nat() }),
      fc.record({ kind: fc.constant('restart' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(step, { maxLength: 60 }), (n, steps) => {
        const configured = Array.from({ length: n }, (_, i) => String(i));
        const live: Array<{ devices: string[] | null; gpu: number }> = [];
        let ledger = new DeviceLedger(configured, live);
        for (const s of steps) {
          if (s.kind === 'start') {
            const freeBefore = ledger.free;
            const devices = ledger.take(s.gpu);
            // A run gets exactly what it needs, or nothing when (and only when) too few are free.
            if (devices === null) expect(devicesNeeded(s.gpu)).toBeGreaterThan(freeBefore);
            else {
              expect(devices).toHaveLength(devicesNeeded(s.gpu));
              live.push({ devices, gpu: s.gpu });
            }
          } else if (s.kind === 'end' && live.length) {
            live.splice(s.index % live.length, 1);
            ledger = new DeviceLedger(configured, live); // the next pass reads the rows again
          } else if (s.kind === 'restart') {
            ledger = new DeviceLedger(configured, live); // a restarted scheduler: from the rows only
          }
          const all = live.flatMap((r) => r.devices ?? []);
          expect(new Set(all).size).toBe(all.length);
          for (const id of all) expect(configured).toContain(id);
          expect(ledger.free).toBe(n - heldDevices(live).size);
        }
      }),
    );
  });
});
