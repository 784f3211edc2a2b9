/** The text picture of a pipeline run's DAG that `myelin pipeline graph` prints. */
export interface GraphOp {
  name: string;
  upstream: string[];
  status: string;
  reason: string;
  message: string;
  attempts: number;
  maxRetries: number;
  run: { number: number } | null;
}

const MARK: Record<string, string> = {
  succeeded: '✔',
  reused: '✔',
  cached: '✔',
  failed: '✘',
  upstream_failed: '✘',
  stopped: '■',
  skipped: '–',
  running: '▶',
  retrying: '↻',
  waiting: '·',
};

/**
 * One block per topological layer (the ops of a layer do not depend on each other); each op shows
 * its status, its upstream ops (`<- a, b`), its latest run and attempts, and why it is where it is.
 */
export function renderPipelineGraph(ops: GraphOp[], layers: string[][]): string {
  const byName = new Map(ops.map((o) => [o.name, o]));
  const width = Math.max(4, ...ops.map((o) => o.name.length));
  const statusWidth = Math.max(6, ...ops.map((o) => o.status.length));
  const lines: string[] = [];
  layers.forEach((layer, i) => {
    lines.push(`layer ${i + 1}`);
    for (const name of layer) {
      const o = byName.get(name);
      if (!o) continue;
      const mark = MARK[o.status] ?? '…';
      const from = o.upstream.length ? `<- ${o.upstream.join(', ')}` : '(root)';
      const run = o.run ? `run #${o.run.number}` : 'no run';
      const tries = o.attempts > 1 || o.maxRetries > 0 ? `, attempt ${o.attempts}/${o.maxRetries + 1}` : '';
      const why = o.message ? `: ${o.message}` : o.reason ? `: ${o.reason}` : '';
      lines.push(`  ${mark} ${o.name.padEnd(width)}  ${o.status.padEnd(statusWidth)}  ${from}  [${run}${tries}]${why}`);
    }
  });
  return lines.join('\n');
}
