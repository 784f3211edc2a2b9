/**
 * Pod statuses as a kubelet and the Kubernetes scheduler write them, for the tests' fake API
 * server: the phase sequences a real pod goes through.
 */
const T = '2026-01-01T00:00:00Z';
const container = (state: Record<string, unknown>, ready = false) => [{ name: 'myelin', image: 'busybox:1.36', imageID: '', ready, restartCount: 0, started: ready, state }];
const scheduledCondition = { type: 'PodScheduled', status: 'True', lastTransitionTime: T };

export const kubelet = {
  pending: () => ({ phase: 'Pending', qosClass: 'BestEffort' }),
  unschedulable: (message = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.') => ({
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: T }],
  }),
  containerCreating: () => ({ phase: 'Pending', conditions: [scheduledCondition], containerStatuses: container({ waiting: { reason: 'ContainerCreating' } }) }),
  imagePull: (reason: 'ErrImagePull' | 'ImagePullBackOff', image = 'registry.invalid/nope:1') => ({
    phase: 'Pending',
    conditions: [scheduledCondition],
    containerStatuses: container({
      waiting: {
        reason,
        message: reason === 'ErrImagePull' ? `failed to pull and unpack image "${image}": failed to resolve reference "${image}": not found` : `Back-off pulling image "${image}"`,
      },
    }),
  }),
  running: () => ({
    phase: 'Running',
    conditions: [scheduledCondition, { type: 'Ready', status: 'True', lastTransitionTime: T }],
    containerStatuses: container({ running: { startedAt: T } }, true),
  }),
  terminated: (exitCode: number, reason = exitCode === 0 ? 'Completed' : 'Error') => ({
    phase: exitCode === 0 ? 'Succeeded' : 'Failed',
    conditions: [scheduledCondition],
    containerStatuses: container({ terminated: { exitCode, reason, startedAt: T, finishedAt: T } }),
  }),
  evicted: () => ({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.' }),
};
