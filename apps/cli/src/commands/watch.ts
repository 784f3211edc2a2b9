import { LogLine, Run } from '@myelin/sdk';
import { CommandContext } from '../cli-context';

const FINAL = new Set(['succeeded', 'failed', 'upstream_failed', 'stopped', 'skipped', 'done']);

export function printLogLine(line: LogLine): void {
  const out = line.stream === 'stdout' ? process.stdout : process.stderr;
  out.write(`${line.line}\n`);
}

/** Stream a run's logs until its last line, then wait for its final status and return the run. */
export async function watchRun(ctx: CommandContext, run: Run, { quiet = false } = {}): Promise<Run> {
  await ctx.client.followLogs(run.uuid, (line) => {
    if (!quiet) printLogLine(line);
  });
  // The last log line comes just before the final status; give the status a moment to land.
  for (let i = 0; ; i++) {
    const current = await ctx.client.getRunByUuid(run.uuid);
    if (FINAL.has(current.status)) {
      if (!quiet) {
        const detail = current.statusMessage ? ` (${current.statusMessage})` : '';
        process.stderr.write(`Run ${current.project}#${current.number} ${current.status}${detail}\n`);
      }
      return current;
    }
    await new Promise((r) => setTimeout(r, Math.min(100 * (i + 1), 1000)));
  }
}
