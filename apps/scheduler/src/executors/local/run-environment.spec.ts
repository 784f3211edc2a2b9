import type { ExecutionEntity } from '@myelin/persistence';
import { buildRunEnvironment, deviceEnvironment } from './run-environment';

const execution = (devices: string[] | null) =>
  ({
    runUuid: '00000000-0000-4000-8000-000000000001',
    number: 3,
    kind: 'experiment',
    project: 'alice/vision',
    params: {},
    attempt: 0,
    devices,
  }) as unknown as ExecutionEntity;
const paths = { workdir: '/w', outputs: '/w/outputs', code: '/w/code' };
const host = {
  PATH: '/usr/bin',
  CUDA_VISIBLE_DEVICES: '0,1,2,3',
  NVIDIA_VISIBLE_DEVICES: 'all',
  MYELIN_GPU_DEVICES: '0,1,2,3',
};

describe('GPU devices in the job environment', () => {
  it('shows a GPU run only its own devices', () => {
    const env = buildRunEnvironment(host, execution(['1', '3']), paths, 'http://127.0.0.1:8000');
    expect(env['CUDA_VISIBLE_DEVICES']).toBe('1,3');
    expect(env['NVIDIA_VISIBLE_DEVICES']).toBe('1,3');
    expect(env['MYELIN_GPU_DEVICES']).toBeUndefined(); // the scheduler's own setting stays private
  });

  it('hides every GPU from a run that asks none on a host with GPUs', () => {
    const env = buildRunEnvironment(host, execution([]), paths, 'http://127.0.0.1:8000');
    expect(env['CUDA_VISIBLE_DEVICES']).toBe('');
    expect(env['NVIDIA_VISIBLE_DEVICES']).toBe('void');
  });

  it("leaves the host's variables alone where no devices are configured", () => {
    const env = buildRunEnvironment(host, execution(null), paths, 'http://127.0.0.1:8000');
    expect(env['CUDA_VISIBLE_DEVICES']).toBe('0,1,2,3');
    expect(deviceEnvironment(undefined)).toEqual({});
  });
});
