import { Command } from 'commander';
import { Run } from '@myelin/sdk';
import { CliError, createContext, EXIT } from '../cli-context';
import { ago, duration, printJson, table } from '../output/format';

interface TrialsPage {
  count: number;
  results: Run[];
  progress: { total: number; byStatus: Record<string, number> };
  search: { algorithm: string | null; concurrency: number; experiments: number | null; earlyStopping: unknown[] };
}

const common = (cmd: Command) =>
  cmd
    .option('-p, --project <name>', 'project ("name" or "owner/name")')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)');

async function groupOf(ctx: ReturnType<typeof createContext>, ref: string): Promise<Run> {
  const run = await ctx.resolveRun(ref);
  if (run.kind !== 'group') throw new CliError(`run ${run.number} is a ${run.kind}, not a group`, EXIT.usage);
  return run;
}

export function groupCommand(): Command {
  const group = new Command('group').description('hyperparameter search groups');
  group.addCommand(
    common(new Command('ls'))
      .description("the project's groups")
      .option('--json', 'print as JSON')
      .action(async (opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const page = await ctx.client.listRuns(await ctx.project(), { limit: 100, query: 'kind:group' });
        if (opts.json) return printJson(page);
        if (!page.results.length) return void process.stdout.write('No groups.\n');
        process.stdout.write(`${table(['#', 'NAME', 'STATUS', 'CREATED', 'DURATION'], page.results.map((r) => [r.number, r.name, r.status, ago(r.createdAt), duration(r.startedAt, r.finishedAt)]))}\n`);
      }),
  );
  group.addCommand(
    common(new Command('get'))
      .description('a group: algorithm, progress, best trial and its params')
      .argument('<group>', 'group number or uuid')
      .option('--json', 'print as JSON')
      .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const g = await groupOf(ctx, ref);
        const trials = await ctx.client.call<TrialsPage>('GET', `/api/v1/${g.project}/runs/${g.number}/trials?limit=1`);
        const spec = await ctx.client.call<{ statuses?: unknown }>('GET', `/api/v1/${g.project}/runs/${g.number}`);
        if (opts.json) return printJson({ ...spec, progress: trials.progress, search: trials.search });
        const done = Object.entries(trials.progress.byStatus).filter(([s]) => ['succeeded', 'failed', 'stopped', 'skipped', 'upstream_failed'].includes(s)).reduce((a, [, n]) => a + n, 0);
        const running = (trials.progress.byStatus['running'] ?? 0) + (trials.progress.byStatus['starting'] ?? 0);
        process.stdout.write(`group      ${g.project}#${g.number} ${g.name ?? ''}\nstatus     ${g.status}${g.statusMessage ? ` (${g.statusMessage})` : ''}\n`);
        process.stdout.write(`search     ${trials.search.algorithm ?? '?'}, concurrency ${trials.search.concurrency}${trials.search.experiments ? `, ${trials.search.experiments} experiments` : ''}${trials.search.earlyStopping.length ? ', early stopping' : ''}\n`);
        process.stdout.write(`trials     ${trials.progress.total} created: ${done} done, ${running} running, ${trials.progress.total - done - running} pending\n`);
        process.stdout.write(`by status  ${Object.entries(trials.progress.byStatus).map(([s, n]) => `${s} ${n}`).join(', ')}\n`);
      }),
  );
  group.addCommand(
    common(new Command('experiments'))
      .description("a group's trials with their params")
      .argument('<group>', 'group number or uuid')
      .option('-q, --query <query>', 'filter the trials')
      .option('-s, --sort <sort>', 'order, e.g. "-metrics.loss"')
      .option('--json', 'print as JSON')
      .action(async (ref: string, opts: { project?: string; host?: string; query?: string; sort?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const g = await groupOf(ctx, ref);
        const qs = new URLSearchParams({ limit: '1000', ...(opts.query ? { query: opts.query } : {}), ...(opts.sort ? { sort: opts.sort } : {}) });
        const trials = await ctx.client.call<TrialsPage>('GET', `/api/v1/${g.project}/runs/${g.number}/trials?${qs.toString()}`);
        if (opts.json) return printJson(trials);
        process.stdout.write(`${table(['#', 'STATUS', 'PARAMS', 'DURATION'], trials.results.map((r) => [r.number, r.status, JSON.stringify(r.params), duration(r.startedAt, r.finishedAt)]))}\n`);
      }),
  );
  group.addCommand(
    common(new Command('stop'))
      .description('stop a group: no new trials, running ones stopped')
      .argument('<group>', 'group number or uuid')
      .action(async (ref: string, opts: { project?: string; host?: string }) => {
        const ctx = createContext(opts);
        const g = await groupOf(ctx, ref);
        await ctx.client.stopRun(g.project, g.number);
        process.stdout.write(`Stopping group ${g.project}#${g.number}\n`);
      }),
  );
  return group;
}
