import { LogLine, Run } from '@myelin/sdk';
import { CommandContext } from '../cli-context';

const FINAL = new Set(['succeeded', 'failed', 'upstream_failed', 'stopped', 'skipped', 'done']);

export function printLogLine(line: LogLine): void {
  const out = line.stream === 'stdout' ? process.stdout : process.stderr;
  out.write(`${line.line}\n`);
}

/** After the run ended, how long the log stream may take to deliver its last lines. */
const DRAIN_MS = 5000;

/**
 * Stream a run's logs until its last line and return the run in its final status. The log
 * stream normally ends by itself; the status is polled beside it so that a stream that never
 * ends (its end marker lost) cannot hang the watch.
 */
export async function watchRun(ctx: CommandContext, run: Run, { quiet = false } = {}): Promise<Run> {
  const abort = new AbortController();
  let streamDone = false;
  const stream = ctx.client
    .followLogs(run.uuid, (line) => {
      if (!quiet) printLogLine(line);
    }, { signal: abort.signal })
    .catch((error: unknown) => {
      // The run's outcome still decides the exit code: without its logs (tracking unreachable, or
      // not routed where the API is), the watch follows its status alone and says so.
      if (abort.signal.aborted) return;
      const why = error instanceof Error ? error.message : String(error);
      process.stderr.write(`warning: cannot stream the logs (${why}); following the run's status only. Is tracking at this host? (MYELIN_TRACKING_HOST)\n`);
    })
    .finally(() => (streamDone = true));
  let final: Run | undefined;
  for (let i = 0; !final; i++) {
    const current = await ctx.client.getRunByUuid(run.uuid);
    if (FINAL.has(current.status)) final = current;
    else await new Promise((r) => setTimeout(r, Math.min(200 * (i + 1), 1000)));
  }
  const deadline = Date.now() + DRAIN_MS;
  while (!streamDone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  abort.abort();
  await stream;
  if (!quiet) {
    const detail = final.statusMessage ? ` (${final.statusMessage})` : '';
    process.stderr.write(`Run ${final.project}#${final.number} ${final.status}${detail}\n`);
  }
  return final;
}

/** A group has no logs of its own: report its status as it changes until it ends. */
export async function watchGroup(ctx: CommandContext, group: Run, { quiet = false, label = 'Group' } = {}): Promise<Run> {
  let last = '';
  for (;;) {
    const current = await ctx.client.getRunByUuid(group.uuid);
    const line = `${current.status}${current.statusMessage ? ` (${current.statusMessage})` : ''}`;
    if (!quiet && line !== last) process.stderr.write(`${label} ${current.project}#${current.number}: ${line}\n`);
    last = line;
    if (FINAL.has(current.status)) return current;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
