import { observeRun, PodView } from './pod-status';
import { kubelet } from './testing/kubelet';
import { timestampKey } from './pod-logs';

const pod = (name: string, status: Record<string, unknown>, role = 'master', index = 0): PodView => ({
  metadata: { name, labels: { 'myelin.dev/role': role, 'myelin.dev/replica-index': String(index) } },
  status: status as PodView['status'],
});
const opts = (waitedMs = 0) => ({ now: 10_000, imagePullGraceMs: 5_000, waitingSince: () => 10_000 - waitedMs });

describe('pod phases and container states -> run status', () => {
  it('walks a normal pod: scheduled, starting, running, succeeded', () => {
    expect(observeRun([pod('p', kubelet.pending())], opts()).condition).toMatchObject({ status: 'scheduled' });
    expect(observeRun([pod('p', kubelet.containerCreating())], opts()).condition).toMatchObject({ status: 'starting', reason: 'ContainerCreating' });
    expect(observeRun([pod('p', kubelet.running())], opts())).toMatchObject({ state: { state: 'running' }, condition: { status: 'running' } });
    expect(observeRun([pod('p', kubelet.terminated(0))], opts())).toEqual({
      state: { state: 'exited', exitCode: 0 },
      condition: { status: 'succeeded', reason: 'Succeeded', message: 'exit code 0', exitCode: 0 },
    });
  });

  it('Unschedulable keeps the run alive as unschedulable with the scheduler message', () => {
    const o = observeRun([pod('p', kubelet.unschedulable('0/3 nodes are available: 3 Insufficient nvidia.com/gpu.'))], opts());
    expect(o).toEqual({ state: { state: 'running' }, condition: { status: 'unschedulable', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' } });
  });

  it('image pull errors warn during the grace period, then fail with the reason', () => {
    const within = observeRun([pod('p', kubelet.imagePull('ImagePullBackOff'))], opts(4_999));
    expect(within).toMatchObject({ state: { state: 'running' }, condition: { status: 'warning', reason: 'ImagePullBackOff' } });
    const after = observeRun([pod('p', kubelet.imagePull('ErrImagePull'))], opts(5_000));
    expect(after.state).toEqual({ state: 'vanished' });
    expect(after.condition).toMatchObject({ status: 'failed', reason: 'ErrImagePull' });
    expect(after.condition.message).toContain('registry.invalid/nope:1');
  });

  it('exit codes, OOMKilled and evictions fail the run with the reason and the code in the message', () => {
    expect(observeRun([pod('p', kubelet.terminated(3))], opts())).toEqual({
      state: { state: 'exited', exitCode: 3 },
      condition: { status: 'failed', reason: 'Error', message: 'exit code 3', exitCode: 3 },
    });
    expect(observeRun([pod('p', kubelet.terminated(137, 'OOMKilled'))], opts()).condition).toEqual({ status: 'failed', reason: 'OOMKilled', message: 'exit code 137 (OOMKilled)', exitCode: 137 });
    expect(observeRun([pod('p', kubelet.evicted())], opts())).toMatchObject({ state: { state: 'vanished' }, condition: { status: 'failed', reason: 'Evicted' } });
  });

  it('distributed: the master decides success, any failed replica fails the run (named in the message)', () => {
    const ps = pod('ps', kubelet.running(), 'ps', 0);
    expect(observeRun([pod('m', kubelet.terminated(0)), pod('w', kubelet.terminated(0), 'worker', 0), ps], opts()).condition.status).toBe('succeeded');
    expect(observeRun([pod('m', kubelet.running()), pod('w', kubelet.terminated(0), 'worker', 0), ps], opts()).condition.status).toBe('running');
    const failed = observeRun([pod('m', kubelet.running()), pod('w', kubelet.terminated(1), 'worker', 1), ps], opts());
    expect(failed.condition).toEqual({ status: 'failed', reason: 'Error', message: 'exit code 1 in worker.1', exitCode: 1 });
  });

  it('no pod at all is a lost run', () => {
    expect(observeRun([], opts())).toMatchObject({ state: { state: 'vanished' }, condition: { status: 'failed', reason: 'Lost' } });
  });

  it('compares log timestamps exactly although the API trims trailing zeros', () => {
    expect(timestampKey('2026-01-01T00:00:00.1Z') > timestampKey('2026-01-01T00:00:00.09Z')).toBe(true);
    expect(timestampKey('2026-01-01T00:00:01Z') > timestampKey('2026-01-01T00:00:00.999999999Z')).toBe(true);
  });
});
