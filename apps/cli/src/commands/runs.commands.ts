import { Command, InvalidArgumentError } from 'commander';
import { writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { Run } from '@myelin/sdk';
import { isFinal, RunStatus } from '@myelin/contracts';
import { CliError, CommandContext, createContext, EXIT } from '../cli-context';
import { ago, duration, printJson, table } from '../output/format';
import { printLogLine, watchRun } from './watch';
import { collect, parseParamFlags, readSpecFiles } from './spec-input';

const common = (cmd: Command) =>
  cmd
    .option('-p, --project <name>', 'project ("name" or "owner/name"; default: $MYELIN_PROJECT or "default")')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)');

export function psCommand(): Command {
  return common(new Command('ps'))
    .description("list the project's runs, newest first")
    .option('--limit <n>', 'how many', (v) => Number(v), 20)
    .option('--offset <n>', 'skip this many', (v) => Number(v), 0)
    .option('-q, --query <query>', 'filter, e.g. "status:running|queued, metrics.loss:<0.3"')
    .option('-s, --sort <sort>', 'order, e.g. "-metrics.loss,created_at"')
    .option('--json', 'print the page as JSON')
    .action(async (opts: { project?: string; host?: string; limit: number; offset: number; query?: string; sort?: string; json?: boolean }) => {
      const ctx = createContext(opts);
      const page = await ctx.client.listRuns(await ctx.project(), { limit: opts.limit, offset: opts.offset, query: opts.query, sort: opts.sort });
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
      let ended = false;
      for (;;) {
        const page = await ctx.client.logs(run.uuid, after);
        for (const line of page.results) printLogLine(line);
        ended = page.ended;
        if (page.results.length) after = page.results[page.results.length - 1].id;
        if (page.results.length < 1000) break;
      }
      // A run that has ended, whose last lines are still on their way to tracking (they travel
      // apart from its status): wait for the end of its log stream, a while, rather than print
      // part of it as if it were all.
      if (!ended && isFinal(run.status as RunStatus)) await awaitLogEnd(ctx, run.uuid, after);
    });
}

/** How long `myelin logs` waits for the rest of a finished run's log stream. */
const LOG_END_WAIT_MS = 15_000;

async function awaitLogEnd(ctx: CommandContext, runUuid: string, after: number): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), LOG_END_WAIT_MS);
  try {
    await ctx.client.followLogs(runUuid, printLogLine, { after, signal: controller.signal });
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    process.stderr.write(`myelin: the log stream of this run has not ended after ${LOG_END_WAIT_MS / 1000} s; more lines may still arrive\n`);
  } finally {
    clearTimeout(timer);
  }
}

export function metricsCommand(): Command {
  return common(new Command('metrics'))
    .description("show a run's metrics: last, min, max and count per metric, or the points with --json")
    .argument('<run>', 'run uuid or number')
    .option('--name <names>', 'comma-separated metric names')
    .option('--json', 'print {"<metric>": [{"step", "value", "timestamp"}]}')
    .option('--points <n>', 'with --json: downsample each series to n points (LTTB on the server)', (v) => positiveInt(v, '--points'))
    .option('--from-step <step>', 'with --json: first step', (v) => positiveInt(v, '--from-step', 0))
    .option('--to-step <step>', 'with --json: last step', (v) => positiveInt(v, '--to-step', 0))
    .action(async (ref: string, opts: { project?: string; host?: string; name?: string; json?: boolean; points?: number; fromStep?: number; toStep?: number }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      const names = opts.name?.split(',').filter(Boolean);
      if (opts.json) {
        return printJson(
          await ctx.client.metrics(run.uuid, names, {
            ...(opts.points !== undefined ? { points: opts.points } : {}),
            ...(opts.fromStep !== undefined ? { fromStep: opts.fromStep } : {}),
            ...(opts.toStep !== undefined ? { toStep: opts.toStep } : {}),
          }),
        );
      }
      // The table comes from the per-metric summaries: no series is read, however long.
      const summaries = (await ctx.client.metricSummaries(run.uuid)).filter((m) => !names || names.includes(m.name));
      if (!summaries.length) return void process.stdout.write('No metrics reported.\n');
      const rows = summaries.map((m) => [m.name, m.lastStep ?? '', m.last ?? '', m.min ?? '', m.max ?? '', m.count]);
      process.stdout.write(`${table(['METRIC', 'LAST STEP', 'LAST', 'MIN', 'MAX', 'POINTS'], rows)}\n`);
    });
}

function positiveInt(value: string, flag: string, min = 1): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}`);
  return n;
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

export function updateCommand(): Command {
  return common(new Command('update'))
    .description("update a run's name, description or tags")
    .argument('<run>', 'run uuid or number')
    .option('--name <name>')
    .option('--description <text>')
    .option('--tags <tags>', 'comma-separated tags (replaces)')
    .option('--json', 'print the run as JSON')
    .action(async (ref: string, opts: { project?: string; host?: string; name?: string; description?: string; tags?: string; json?: boolean }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      const updated = await ctx.client.call<Run>('PATCH', `/api/v1/${run.project}/runs/${run.number}`, {
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.tags !== undefined ? { tags: opts.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
      });
      if (opts.json) printJson(updated);
      else process.stdout.write(`Updated run ${updated.project}#${updated.number}\n`);
    });
}

/** restart (fresh outputs), resume (the original's outputs, so checkpoints are found), copy (a copy of them). */
export function cloneCommand(strategy: 'restart' | 'resume' | 'copy'): Command {
  const what = { restart: 'with fresh outputs', resume: "writing into the original's outputs (its checkpoints are found)", copy: "with a copy of the original's outputs" }[strategy];
  return common(new Command(strategy))
    .description(`${strategy} a run: a new run linked to the original, ${what}`)
    .argument('<run>', 'run uuid or number')
    .option('-f, --file <path>', 'override polyaxonfile merged on top of the original (repeatable)', collect)
    .option('-P, --param <name=value>', 'override a param (repeatable)', collect)
    .option('-w, --watch', 'stream the logs until the run ends; exit 0 if it succeeded')
    .option('--json', 'print the new run as JSON')
    .action(async (ref: string, opts: { project?: string; host?: string; file?: string[]; param?: string[]; watch?: boolean; json?: boolean }) => {
      const ctx = createContext(opts);
      const original = await ctx.resolveRun(ref);
      const run = await ctx.client.call<Run>('POST', `/api/v1/${original.project}/runs/${original.number}/${strategy}`, {
        ...(opts.file?.length ? { files: readSpecFiles(opts.file) } : {}),
        ...(opts.param?.length ? { params: parseParamFlags(opts.param) } : {}),
      });
      if (opts.json) printJson(run);
      else process.stdout.write(`Created run ${run.project}#${run.number} (${strategy} of #${original.number})\n`);
      if (opts.watch) {
        const final = await watchRun(ctx, run, { quiet: !!opts.json });
        if (final.status !== 'succeeded') throw new CliError(`run ${run.number} ${final.status}: ${final.statusMessage}`, EXIT.failure);
      }
    });
}

export function deleteCommand(): Command {
  return common(new Command('delete'))
    .description('delete runs with their logs, metrics and outputs')
    .argument('<runs...>', 'run numbers or uuids')
    .action(async (refs: string[], opts: { project?: string; host?: string }) => {
      const ctx = createContext(opts);
      for (const ref of refs) {
        const run = await ctx.resolveRun(ref);
        await ctx.client.call('DELETE', `/api/v1/${run.project}/runs/${run.number}`);
        process.stdout.write(`Deleted run ${run.project}#${run.number}\n`);
      }
    });
}

export function statusesCommand(): Command {
  return common(new Command('statuses'))
    .description("a run's status history")
    .argument('<run>', 'run uuid or number')
    .option('--json', 'print as JSON')
    .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
      const ctx = createContext(opts);
      const run = await ctx.resolveRun(ref);
      const statuses = await ctx.client.statuses(run.project, run.number);
      if (opts.json) return printJson(statuses);
      process.stdout.write(`${table(['STATUS', 'REASON', 'AT', 'MESSAGE'], statuses.map((s) => [s.status, s.reason, s.at, s.message]))}\n`);
    });
}

/** The last value of each metric of a run. */
async function lastMetrics(ctx: CommandContext, uuid: string): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  for (const m of await ctx.client.metricSummaries(uuid)) if (m.last !== null) out[m.name] = m.last;
  return out;
}

export function compareCommand(): Command {
  return common(new Command('compare'))
    .description('params and last metrics of runs side by side')
    .argument('<runs...>', 'two or more run numbers or uuids')
    .option('--json', 'print as JSON')
    .action(async (refs: string[], opts: { project?: string; host?: string; json?: boolean }) => {
      if (refs.length < 2) throw new CliError('compare needs at least two runs', EXIT.usage);
      const ctx = createContext(opts);
      const rows: Array<{ run: Run; metrics: Record<string, number | string> }> = [];
      for (const ref of refs) {
        const run = await ctx.resolveRun(ref);
        rows.push({ run, metrics: await lastMetrics(ctx, run.uuid) });
      }
      if (opts.json) return printJson(rows.map((r) => ({ uuid: r.run.uuid, number: r.run.number, status: r.run.status, params: r.run.params, metrics: r.metrics })));
      const params = [...new Set(rows.flatMap((r) => Object.keys(r.run.params)))].sort();
      const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
      const body: Array<Array<string | number>> = [
        ['status', ...rows.map((r) => r.run.status)],
        ...params.map((p) => [`params.${p}`, ...rows.map((r) => JSON.stringify(r.run.params[p] ?? null))]),
        ...metrics.map((m) => [`metrics.${m}`, ...rows.map((r) => r.metrics[m] ?? '')]),
      ];
      process.stdout.write(`${table(['', ...rows.map((r) => `#${r.run.number}`)], body)}\n`);
    });
}

export function exportCommand(): Command {
  return common(new Command('export'))
    .description("the project's runs with their params and last metrics, as CSV")
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('-q, --query <query>', 'only the runs matching this query')
    .option('-s, --sort <sort>', 'order of the rows')
    .option('--group <number>', "a group's trials")
    .option('--limit <n>', 'at most this many runs (newest first)', (v) => Number(v), 1000)
    .action(async (opts: { project?: string; host?: string; output?: string; query?: string; sort?: string; group?: string; limit: number }) => {
      const ctx = createContext(opts);
      const project = await ctx.project();
      if (opts.group) {
        const g = await ctx.resolveRun(opts.group);
        opts.query = opts.query ? `group:"${g.uuid}", (${opts.query})` : `group:"${g.uuid}"`;
      }
      const runs: Run[] = [];
      for (let offset = 0; runs.length < opts.limit; offset += 500) {
        const pageOf = await ctx.client.listRuns(project, { limit: Math.min(500, opts.limit - runs.length), offset, query: opts.query, sort: opts.sort });
        runs.push(...pageOf.results);
        if (!pageOf.next) break;
      }
      const metrics = await Promise.all(runs.map((r) => lastMetrics(ctx, r.uuid)));
      const paramNames = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
      const metricNames = [...new Set(metrics.flatMap((m) => Object.keys(m)))].sort();
      const header = ['number', 'uuid', 'name', 'status', 'created_at', 'finished_at', ...paramNames.map((p) => `params.${p}`), ...metricNames.map((m) => `metrics.${m}`)];
      const records = runs.map((r, i) => [
        r.number, r.uuid, r.name ?? '', r.status, r.createdAt, r.finishedAt ?? '',
        ...paramNames.map((p) => (r.params[p] === undefined ? '' : typeof r.params[p] === 'object' ? JSON.stringify(r.params[p]) : String(r.params[p]))),
        ...metricNames.map((m) => metrics[i][m] ?? ''),
      ]);
      const csv = stringify([header, ...records]);
      if (opts.output) {
        writeFileSync(opts.output, csv);
        process.stderr.write(`Wrote ${runs.length} runs to ${opts.output}\n`);
      } else process.stdout.write(csv);
    });
}
