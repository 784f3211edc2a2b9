import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogLinesAppend, MetricsBatch } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { createTempDir, TempDir } from '@myelin/testing';
import { busTransport, LogShipper } from './log-shipper';

const RUN = '6f1c2b8e-1f7a-4c1e-9a51-3b0f4ad1c2d3';

describe('LogShipper', () => {
  let dir: TempDir;
  let bus: InProcessBus;
  let logs: LogLinesAppend.Payload[];
  let metrics: MetricsBatch.Payload[];
  let files: { stdout: string; stderr: string };

  beforeEach(async () => {
    dir = await createTempDir('shipper');
    files = { stdout: join(dir.path, 'stdout.log'), stderr: join(dir.path, 'stderr.log') };
    await writeFile(files.stdout, '');
    await writeFile(files.stderr, '');
    bus = new InProcessBus();
    logs = [];
    metrics = [];
    await bus.consume(
      'tracking',
      new Map<string, MessageHandler>([
        [LogLinesAppend.PATTERN, ((p: LogLinesAppend.Payload) => void logs.push(p)) as MessageHandler],
        [MetricsBatch.PATTERN, ((p: MetricsBatch.Payload) => void metrics.push(p)) as MessageHandler],
      ]),
    );
  });

  afterEach(async () => {
    await bus.close();
    await dir.remove();
  });

  const lines = () => logs.flatMap((b) => b.lines.map((l) => `${l.stream}:${l.line}`));

  it('ships complete lines, keeps a partial one until it ends, and ends the stream on the final pass', async () => {
    const shipper = new LogShipper(busTransport(bus));
    await appendFile(files.stdout, 'one\ntw');
    await appendFile(files.stderr, 'warn\n');
    let offsets = await shipper.ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, false);
    await bus.drain();
    expect(lines()).toEqual(['stdout:one', 'stderr:warn']);
    expect(offsets).toEqual({ stdoutOffset: 4, stderrOffset: 5 });

    await appendFile(files.stdout, 'o\nthree (no newline)');
    offsets = await shipper.ship(RUN, files, offsets, true);
    await bus.drain();
    expect(lines()).toEqual(['stdout:one', 'stderr:warn', 'stdout:two', 'stdout:three (no newline)']);
    expect(logs[logs.length - 1]).toMatchObject({ final: true, lines: [] });
  });

  it('turns metric lines into points, keeps them in the logs, and reports malformed ones', async () => {
    const shipper = new LogShipper(busTransport(bus));
    await appendFile(files.stdout, 'myelin:metric step=1 loss=0.5 acc=0.8\nmyelin:metric loss=oops\n');
    await shipper.ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, false);
    await bus.drain();
    expect(metrics).toHaveLength(1);
    expect(metrics[0].points.map((p) => [p.name, p.step, p.value])).toEqual([
      ['loss', 1, 0.5],
      ['acc', 1, 0.8],
    ]);
    expect(lines()).toContain('stdout:myelin:metric step=1 loss=0.5 acc=0.8');
    expect(lines().some((l) => l.startsWith('system:') && /malformed metric/.test(l))).toBe(true);
  });

  it('derives batch ids from offsets, so re-shipping after a crash sends the same ids', async () => {
    await appendFile(files.stdout, 'a\nb\n');
    await new LogShipper(busTransport(bus)).ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, false);
    await new LogShipper(busTransport(bus)).ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, false); // as after a restart
    await bus.drain();
    expect(logs.map((b) => b.batchId)).toEqual(['stdout:0:0', 'stdout:0:0']);
  });

  it('splits an endless line instead of waiting for its newline', async () => {
    await appendFile(files.stdout, 'x'.repeat(40 * 1024));
    const shipper = new LogShipper(busTransport(bus));
    // Full 16 KiB pieces go now; the 8 KiB rest waits for its newline or the end of the run.
    const offsets = await shipper.ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, false);
    await bus.drain();
    expect(offsets.stdoutOffset).toBe(32 * 1024);
    expect(lines().map((l) => l.length - 'stdout:'.length)).toEqual([16 * 1024, 16 * 1024]);
    await shipper.ship(RUN, files, offsets, true);
    await bus.drain();
    expect(lines().join('').replace(/stdout:/g, '')).toHaveLength(40 * 1024);
  });

  it('keeps a batch within one read (1 MiB), whatever the lines, with ids from the read offset', async () => {
    // 300 lines of 10 KiB: 3 MB, shipped in reads of at most 1 MiB.
    await appendFile(files.stdout, `${'y'.repeat(10 * 1024)}\n`.repeat(300));
    const offsets = await new LogShipper(busTransport(bus)).ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, false);
    await bus.drain();
    expect(logs.length).toBeGreaterThanOrEqual(3);
    for (const batch of logs) expect(batch.lines.reduce((n, l) => n + l.line.length, 0)).toBeLessThanOrEqual(1024 * 1024);
    expect(logs.flatMap((b) => b.lines)).toHaveLength(300);
    expect(logs[1].batchId).toBe(`stdout:${logs[0].lines.length * (10 * 1024 + 1)}:0`);
    expect(offsets.stdoutOffset).toBe(300 * (10 * 1024 + 1));
  });

  it('does not advance past what the transport refused: the same bytes go again, with the same ids', async () => {
    await appendFile(files.stdout, 'kept\n');
    let refuse = true;
    const sent: string[] = [];
    const shipper = new LogShipper(async (messages) => {
      if (refuse) throw new Error('database unavailable');
      sent.push(...messages.map((m) => m.payload.batchId));
    });
    await expect(shipper.ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, true)).rejects.toThrow('database unavailable');
    refuse = false;
    const offsets = await shipper.ship(RUN, files, { stdoutOffset: 0, stderrOffset: 0 }, true);
    expect(sent).toEqual(['stdout:0:0', 'eof:5:0']);
    expect(offsets).toEqual({ stdoutOffset: 5, stderrOffset: 0 });
  });
});
