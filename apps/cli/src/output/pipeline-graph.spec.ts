import { renderPipelineGraph } from './pipeline-graph';

describe('renderPipelineGraph', () => {
  it('prints one block per layer with status, upstream ops, run and reason', () => {
    const text = renderPipelineGraph(
      [
        { name: 'prepare', upstream: [], status: 'succeeded', reason: 'Succeeded', message: '', attempts: 1, maxRetries: 0, run: { number: 2 } },
        { name: 'train', upstream: ['prepare'], status: 'failed', reason: 'Failed', message: 'exit code 1', attempts: 2, maxRetries: 1, run: { number: 4 } },
        { name: 'report', upstream: ['prepare', 'train'], status: 'upstream_failed', reason: 'UpstreamFailed', message: '', attempts: 0, maxRetries: 0, run: { number: 5 } },
      ],
      [['prepare'], ['train'], ['report']],
    );
    expect(text.split('\n')).toEqual([
      'layer 1',
      '  ✔ prepare  succeeded        (root)  [run #2]: Succeeded',
      'layer 2',
      '  ✘ train    failed           <- prepare  [run #4, attempt 2/2]: exit code 1',
      'layer 3',
      '  ✘ report   upstream_failed  <- prepare, train  [run #5]: UpstreamFailed',
    ]);
  });
});
