import { Command } from 'commander';
import { createContext } from '../cli-context';
import { ago, duration, printJson, table } from '../output/format';
import { printLogLine } from './watch';

const common = (cmd: Command) =>
  cmd
    .option('-p, --project <name>', 'project ("name" or "owner/name"; default: $MYELIN_PROJECT or "default")')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)');

export function psCommand(): Command {
  return common(new Command('ps'))
    .description("list the project's runs, newest first")
    .option('--limit <n>', 'how many', (v) => Number(v), 20)
    .option('--offset <n>', 'skip this many', (v) => Number(v), 0)
    .option('--json', 'print the page as JSON')
    .action(async (opts: { project?: string; host?: string; limit: number; offset: number; json?: boolean }) => {
      const ctx = createContext(opts);
      const page = await ctx.client.listRuns(await ctx.project(), { limit: opts.limit, offset: opts.offset });
      if (opts.json) return printJson(page);
      if (!page.results.length) return void process.stdout.write('No runs yet.\n');
      process.stdout.write(
        `${table(
          ['#', 'UUID', 'KIND', 'NAME', 'STATUS', 'CREATED', 'DURATION'],
          page.results.map((r) => [r.number, r.uuid.slice(0, 8), r.kind, r.name, r.status, ago(r.createdAt), duration(r.startedAt, r.finishedAt)]),
        )}\n`,
      );
      if (page.next) process.stdout.write(`(${page.count} runs; --offset ${opts.offset + opts.limit} for more)\n`);
    });
}

export function getCommand(): Command {
  return common(new Command('get'))
    .description('show a run and its status history')
    .argument('<run>', 'run uuid or number')
    .option('--json', 'print the run and its statuses as JSON')
    .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      const statuses = await ctx.client.statuses(run.project, run.number);
      if (opts.json) return printJson({ ...run, statuses });
      const fields: Array<[string, unknown]> = [
        ['run', `${run.project}#${run.number}`],
        ['uuid', run.uuid],
        ['kind', run.kind],
        ['name', run.name],
        ['status', `${run.status}${run.statusMessage ? ` (${run.statusMessage})` : ''}`],
        ['exit code', run.exitCode],
        ['params', JSON.stringify(run.params)],
        ['tags', run.tags.join(', ')],
        ['created', run.createdAt],
        ['duration', duration(run.startedAt, run.finishedAt)],
      ];
      for (const [k, v] of fields) if (v !== null && v !== '') process.stdout.write(`${k.padEnd(10)} ${String(v)}\n`);
      process.stdout.write(`\n${table(['STATUS', 'REASON', 'AT', 'MESSAGE'], statuses.map((s) => [s.status, s.reason, s.at, s.message]))}\n`);
    });
}

export function logsCommand(): Command {
  return common(new Command('logs'))
    .description("print a run's logs")
    .argument('<run>', 'run uuid or number')
    .option('-f, --follow', 'keep streaming until the run ends')
    .action(async (ref: string, opts: { project?: string; host?: string; follow?: boolean }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      if (opts.follow) return ctx.client.followLogs(run.uuid, printLogLine);
      let after = 0;
      for (;;) {
        const page = await ctx.client.logs(run.uuid, after);
        for (const line of page.results) printLogLine(line);
        if (!page.results.length || page.results.length < 1000) return;
        after = page.results[page.results.length - 1].id;
      }
    });
}

export function metricsCommand(): Command {
  return common(new Command('metrics'))
    .description("show a run's metrics: last value per metric, or every point with --json")
    .argument('<run>', 'run uuid or number')
    .option('--name <names>', 'comma-separated metric names')
    .option('--json', 'print {"<metric>": [{"step", "value", "timestamp"}]}')
    .action(async (ref: string, opts: { project?: string; host?: string; name?: string; json?: boolean }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      const series = await ctx.client.metrics(run.uuid, opts.name?.split(','));
      if (opts.json) return printJson(series);
      const names = Object.keys(series);
      if (!names.length) return void process.stdout.write('No metrics reported.\n');
      const rows = names.map((n) => {
        const points = series[n];
        const numeric = points.map((p) => Number(p.value)).filter((v) => !Number.isNaN(v));
        const last = points[points.length - 1];
        return [n, last.step, last.value, numeric.length ? Math.min(...numeric) : '', numeric.length ? Math.max(...numeric) : '', points.length];
      });
      process.stdout.write(`${table(['METRIC', 'LAST STEP', 'LAST', 'MIN', 'MAX', 'POINTS'], rows)}\n`);
    });
}

export function stopCommand(): Command {
  return common(new Command('stop'))
    .description('stop a run (SIGTERM, then SIGKILL after the grace period)')
    .argument('<run>', 'run uuid or number')
    .action(async (ref: string, opts: { project?: string; host?: string }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      await ctx.client.stopRun(run.project, run.number);
      process.stdout.write(`Stopping run ${run.project}#${run.number}\n`);
    });
}
