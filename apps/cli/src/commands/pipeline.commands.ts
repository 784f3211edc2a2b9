import { Command } from 'commander';
import { Run } from '@myelin/sdk';
import { CliError, createContext, EXIT } from '../cli-context';
import { ago, duration, printJson, table } from '../output/format';
import { GraphOp, renderPipelineGraph } from '../output/pipeline-graph';

interface OpsView {
  pipeline: Run;
  ops: Array<GraphOp & { template: string | null; trigger: string; decision: string | null; runs: number[]; run: { uuid: string; number: number; status: string } | null }>;
}
interface GraphView extends OpsView {
  layers: string[][];
  edges: Array<[string, string]>;
}

const common = (cmd: Command) =>
  cmd
    .option('-p, --project <name>', 'project ("name" or "owner/name")')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)');

async function pipelineOf(ctx: ReturnType<typeof createContext>, ref: string): Promise<Run> {
  const run = await ctx.resolveRun(ref);
  if (run.kind !== 'pipeline') throw new CliError(`run ${run.number} is a ${run.kind}, not a pipeline`, EXIT.usage);
  return run;
}

export function pipelineCommand(): Command {
  const pipeline = new Command('pipeline').description('pipeline runs: DAGs of ops (start one with `myelin run -f pipeline.yml`)');
  pipeline.addCommand(
    common(new Command('ls'))
      .description("the project's pipeline runs")
      .option('--json', 'print as JSON')
      .action(async (opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const page = await ctx.client.listRuns(await ctx.project(), { limit: 100, query: 'kind:pipeline' });
        if (opts.json) return printJson(page);
        if (!page.results.length) return void process.stdout.write('No pipeline runs.\n');
        process.stdout.write(
          `${table(['#', 'NAME', 'STATUS', 'CREATED', 'DURATION', 'MESSAGE'], page.results.map((r) => [r.number, r.name, r.status, ago(r.createdAt), duration(r.startedAt, r.finishedAt), r.statusMessage]))}\n`,
        );
      }),
  );
  pipeline.addCommand(
    common(new Command('get'))
      .description("a pipeline run: its status, and each op's status with the reason")
      .argument('<pipeline>', 'pipeline run number or uuid')
      .option('--json', 'print as JSON')
      .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const p = await pipelineOf(ctx, ref);
        const view = await ctx.client.call<OpsView>('GET', `/api/v1/${p.project}/runs/${p.number}/ops`);
        if (opts.json) return printJson(view);
        const r = view.pipeline;
        process.stdout.write(`pipeline   ${r.project}#${r.number} ${r.name ?? ''}\nstatus     ${r.status}${r.statusMessage ? ` (${r.statusMessage})` : ''}\n`);
        if (r.originalUuid) process.stdout.write(`retry of   ${r.originalUuid}\n`);
        process.stdout.write(
          `${table(
            ['OP', 'STATUS', 'RUN', 'ATTEMPTS', 'UPSTREAM', 'REASON', 'WHY IT RAN'],
            view.ops.map((o) => [
              o.name,
              o.status,
              o.run ? `#${o.run.number}` : '-',
              `${o.attempts}/${o.maxRetries + 1}`,
              o.upstream.join(',') || '-',
              o.message || o.reason,
              o.decision ?? '-',
            ]),
          )}\n`,
        );
      }),
  );
  pipeline.addCommand(
    common(new Command('graph'))
      .description("print a pipeline run's DAG as text, each op with its status")
      .argument('<pipeline>', 'pipeline run number or uuid')
      .option('--json', 'print as JSON')
      .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const p = await pipelineOf(ctx, ref);
        const view = await ctx.client.call<GraphView>('GET', `/api/v1/${p.project}/runs/${p.number}/graph`);
        if (opts.json) return printJson(view);
        process.stdout.write(`pipeline ${p.project}#${p.number} ${view.pipeline.status}\n${renderPipelineGraph(view.ops, view.layers)}\n`);
      }),
  );
  pipeline.addCommand(
    common(new Command('stop'))
      .description('stop a pipeline run: running ops are stopped, the others marked stopped')
      .argument('<pipeline>', 'pipeline run number or uuid')
      .action(async (ref: string, opts: { project?: string; host?: string }) => {
        const ctx = createContext(opts);
        const p = await pipelineOf(ctx, ref);
        await ctx.client.stopRun(p.project, p.number);
        process.stdout.write(`Stopping pipeline run ${p.project}#${p.number}\n`);
      }),
  );
  pipeline.addCommand(
    common(new Command('retry'))
      .description('retry a failed or stopped pipeline run from its failed node: a new run reusing the succeeded ops')
      .argument('<pipeline>', 'pipeline run number or uuid')
      .option('--json', 'print as JSON')
      .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const p = await pipelineOf(ctx, ref);
        const run = await ctx.client.call<Run>('POST', `/api/v1/${p.project}/runs/${p.number}/retry`);
        if (opts.json) return printJson(run);
        process.stdout.write(`Created pipeline run ${run.project}#${run.number} (${run.uuid}), retry of #${p.number}\n`);
      }),
  );
  pipeline.addCommand(scheduleCommand());
  return pipeline;
}

interface ScheduleState {
  status: string;
  nextAt: string | null;
  fired: number;
  missed: number;
  blocked: string | null;
  lastSlot: { slot: string; status: string } | null;
  catchUp: string;
}

function describeSchedule(s: { kind?: string; cron?: string; frequency?: number }): string {
  return s.kind === 'cron' ? `cron ${s.cron ?? '?'}` : `every ${s.frequency ?? '?'} s`;
}

function scheduleCommand(): Command {
  const schedule = new Command('schedule').description('scheduled pipelines (a `schedule:` section): list, pause, resume');
  schedule.addCommand(
    common(new Command('ls'))
      .description("the project's schedules with their state, next run and runs fired")
      .option('--json', 'print as JSON')
      .action(async (opts: { project?: string; host?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const page = await ctx.client.call<{ results: Array<{ run: Run; schedule: { kind?: string; cron?: string; frequency?: number }; state: ScheduleState | null }> }>(
          'GET',
          `/api/v1/${await ctx.project()}/schedules`,
        );
        if (opts.json) return printJson(page);
        if (!page.results.length) return void process.stdout.write('No schedules.\n');
        process.stdout.write(
          `${table(
            ['#', 'NAME', 'SCHEDULE', 'STATE', 'NEXT', 'FIRED', 'MISSED', 'CATCH-UP', 'LAST'],
            page.results.map((r) => [
              r.run.number,
              r.run.name,
              describeSchedule(r.schedule),
              r.state ? r.state.status + (r.state.blocked ? ` (${r.state.blocked})` : '') : `unknown (run ${r.run.status})`,
              r.state?.nextAt ?? '-',
              r.state?.fired ?? '-',
              r.state?.missed ?? '-',
              r.state?.catchUp ?? '-',
              r.state?.lastSlot ? `${r.state.lastSlot.slot} ${r.state.lastSlot.status}` : '-',
            ]),
          )}\n`,
        );
      }),
  );
  for (const action of ['pause', 'resume'] as const) {
    schedule.addCommand(
      common(new Command(action))
        .description(action === 'pause' ? 'pause a schedule: no slot fires until resumed' : 'resume a paused schedule (missed slots follow the catch-up policy)')
        .argument('<schedule>', "the schedule's run number or uuid")
        .option('--json', 'print as JSON')
        .action(async (ref: string, opts: { project?: string; host?: string; json?: boolean }) => {
          const ctx = createContext(opts);
          const p = await pipelineOf(ctx, ref);
          const res = await ctx.client.call<{ run: Run; state: ScheduleState }>('POST', `/api/v1/${p.project}/runs/${p.number}/schedule/${action}`);
          if (opts.json) return printJson(res);
          process.stdout.write(`Schedule ${p.project}#${p.number} ${res.state.status}${res.state.nextAt ? `, next run at ${res.state.nextAt}` : ''}\n`);
        }),
    );
  }
  return schedule;
}
