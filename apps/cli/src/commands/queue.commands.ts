import { Command } from 'commander';
import { MyelinClient } from '@myelin/sdk';
import { CliError, createContext, EXIT, resolveConnection } from '../cli-context';
import { ago, printJson, table } from '../output/format';

interface QueueEntry {
  position: number;
  runUuid: string;
  project: string;
  number: number;
  kind: string;
  status: string;
  priority: number;
  reason: string;
  message: string;
  user: string | null;
  demand: { cpu: number; memoryMb: number; gpu: number };
  queuedAt: string;
}

interface QueueView {
  running: number;
  maxParallel: number;
  maxParallelPerProject: number | null;
  waiting: QueueEntry[];
  hidden: number;
}

interface Quota {
  scope: string;
  name: string;
  maxRuns: number | null;
  cpu: number | null;
  memoryMb: number | null;
  gpu: number | null;
  updatedBy: string;
  updatedAt: string;
}

const SCOPES = ['user', 'team', 'project'];

/** The scheduler's HTTP API: behind MYELIN_HOST in embedded mode, MYELIN_SCHEDULER_HOST when it listens apart. */
export function schedulerClient(opts: { host?: string }, env: NodeJS.ProcessEnv = process.env): MyelinClient {
  const conn = resolveConnection(opts, env);
  return new MyelinClient({ host: opts.host ?? env['MYELIN_SCHEDULER_HOST'] ?? conn.host, token: conn.token });
}

export const hostOption = (cmd: Command) =>
  cmd.option('--host <url>', 'scheduler URL (default: $MYELIN_SCHEDULER_HOST, else $MYELIN_HOST or http://127.0.0.1:8000)');

function demand(d: QueueEntry['demand']): string {
  const parts = [d.cpu ? `${d.cpu} cpu` : '', d.memoryMb ? `${formatMb(d.memoryMb)}` : '', d.gpu ? `${d.gpu} gpu` : ''].filter(Boolean);
  return parts.join(', ') || '-';
}

function formatMb(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024}Gi` : `${Math.round(mb * 100) / 100}Mi`;
}

/** `16Gi`, `512Mi`, `2G`, `1500M`, or a plain number of MB. */
export function parseMemoryMb(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T|KB|MB|GB|TB)?$/i.exec(text.trim());
  if (!m) throw new CliError(`"${text}" is not a memory size (e.g. 512Mi, 16Gi, 2G, or MB as a number)`, EXIT.usage);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'Mi').toLowerCase();
  const factor: Record<string, number> = { ki: 1 / 1024, mi: 1, gi: 1024, ti: 1024 * 1024, k: 0.001, kb: 0.001, m: 1, mb: 1, g: 1000, gb: 1000, t: 1e6, tb: 1e6 };
  return Math.round(n * factor[unit] * 1000) / 1000;
}

/** A ceiling: a non-negative number, or `none` to lift it. */
function parseCeiling(flag: string, text: string | undefined, parse: (t: string) => number = Number): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'none' || text === 'unlimited') return null;
  const n = parse(text);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`--${flag} must be a number >= 0 or "none" (got "${text}")`, EXIT.usage);
  return n;
}

const show = (v: number | null, fmt: (n: number) => string = String) => (v === null ? '-' : fmt(v));

function priorityCommand(): Command {
  return new Command('priority')
    .description("move a waiting run in the queue (superusers: any priority; others: only lower their own runs' to 0 or below)")
    .argument('<run>', 'run number (in the project) or uuid')
    .argument('<priority>', 'an integer from -1000 to 1000; higher starts first')
    .option('-p, --project <name>', 'project ("name" or "owner/name") for a run number')
    .option('--api-host <url>', 'API URL, to resolve a run number (default: $MYELIN_HOST or http://127.0.0.1:8000)')
    .option('--host <url>', 'scheduler URL (default: $MYELIN_SCHEDULER_HOST, else $MYELIN_HOST or http://127.0.0.1:8000)')
    .action(async (ref: string, value: string, opts: { project?: string; apiHost?: string; host?: string }) => {
      if (!/^-?\d+$/.test(value)) throw new CliError(`priority must be an integer (got "${value}")`, EXIT.usage);
      const run = await createContext({ ...(opts.apiHost ? { host: opts.apiHost } : {}), ...(opts.project ? { project: opts.project } : {}) }).resolveRun(ref);
      const saved = await schedulerClient(opts).call<{ priority: number }>('PUT', `/api/v1/scheduler/queue/${run.uuid}/priority`, { priority: Number(value) });
      process.stdout.write(`run ${run.project}#${run.number}: priority ${saved.priority}\n`);
    });
}

export function queueCommand(): Command {
  const queue = hostOption(new Command('queue'))
    .description('what waits for the scheduler, in the order it will start, and why (the limit or quota that holds each run)')
    .option('--json', 'print as JSON')
    .action(async (opts: { host?: string; json?: boolean }) => {
      const view = await schedulerClient(opts).call<QueueView>('GET', '/api/v1/scheduler/queue');
      if (opts.json) return printJson(view);
      const limits = `${view.running} running of ${view.maxParallel} at most${view.maxParallelPerProject ? `, ${view.maxParallelPerProject} per project` : ''}`;
      if (!view.waiting.length) {
        process.stdout.write(`Nothing waits (${limits}${view.hidden ? `; ${view.hidden} run(s) of other users not shown` : ''}).\n`);
        return;
      }
      process.stdout.write(
        `${table(
          ['#', 'RUN', 'KIND', 'PRIORITY', 'USER', 'ASKS', 'WAITING', 'STATUS', 'WHY'],
          view.waiting.map((w) => [w.position, `${w.project}#${w.number}`, w.kind, w.priority, w.user ?? '-', demand(w.demand), ago(w.queuedAt), w.status, w.message || w.reason]),
        )}\n`,
      );
      process.stdout.write(`${limits}${view.hidden ? `; ${view.hidden} run(s) of other users not shown` : ''}\n`);
    });
  queue.addCommand(priorityCommand());
  return queue;
}

export function quotaCommand(): Command {
  const quota = new Command('quota').description('ceilings on what a user, team or project runs at once (runs, CPU, memory, GPU); superusers change them');
  quota.addCommand(
    hostOption(new Command('ls'))
      .description('every quota')
      .option('--json', 'print as JSON')
      .action(async (opts: { host?: string; json?: boolean }) => {
        const { results } = await schedulerClient(opts).call<{ results: Quota[] }>('GET', '/api/v1/scheduler/quotas');
        if (opts.json) return printJson(results);
        if (!results.length) return void process.stdout.write('No quotas.\n');
        process.stdout.write(
          `${table(
            ['SCOPE', 'NAME', 'RUNS', 'CPU', 'MEMORY', 'GPU', 'BY', 'UPDATED'],
            results.map((q) => [q.scope, q.name, show(q.maxRuns), show(q.cpu), show(q.memoryMb, formatMb), show(q.gpu), q.updatedBy, ago(q.updatedAt)]),
          )}\n`,
        );
      }),
  );
  quota.addCommand(
    hostOption(new Command('set'))
      .description('create or replace a quota (ceilings not given are lifted)')
      .argument('<scope>', 'user, team or project')
      .argument('<name>', 'username, org/team or owner/project')
      .option('--runs <n>', 'runs at once ("none": no ceiling)')
      .option('--cpu <cores>', 'CPU cores held at once')
      .option('--memory <size>', 'memory held at once (512Mi, 16Gi, 2G; a plain number is MB)')
      .option('--gpu <n>', 'GPUs held at once')
      .option('--json', 'print as JSON')
      .action(async (scope: string, name: string, opts: { host?: string; runs?: string; cpu?: string; memory?: string; gpu?: string; json?: boolean }) => {
        if (!SCOPES.includes(scope)) throw new CliError(`scope must be one of ${SCOPES.join(', ')} (got "${scope}")`, EXIT.usage);
        const body = {
          scope,
          name,
          maxRuns: parseCeiling('runs', opts.runs) ?? null,
          cpu: parseCeiling('cpu', opts.cpu) ?? null,
          memoryMb: parseCeiling('memory', opts.memory, parseMemoryMb) ?? null,
          gpu: parseCeiling('gpu', opts.gpu) ?? null,
        };
        if (body.maxRuns !== null && !Number.isInteger(body.maxRuns)) throw new CliError('--runs must be a whole number', EXIT.usage);
        const saved = await schedulerClient(opts).call<Quota>('PUT', '/api/v1/scheduler/quotas', body);
        if (opts.json) return printJson(saved);
        process.stdout.write(
          `quota ${saved.scope} ${saved.name}: runs ${show(saved.maxRuns)}, cpu ${show(saved.cpu)}, memory ${show(saved.memoryMb, formatMb)}, gpu ${show(saved.gpu)}\n`,
        );
      }),
  );
  quota.addCommand(
    hostOption(new Command('rm'))
      .description('remove a quota')
      .argument('<scope>', 'user, team or project')
      .argument('<name>', 'username, org/team or owner/project')
      .action(async (scope: string, name: string, opts: { host?: string }) => {
        if (!SCOPES.includes(scope)) throw new CliError(`scope must be one of ${SCOPES.join(', ')} (got "${scope}")`, EXIT.usage);
        await schedulerClient(opts).call('DELETE', `/api/v1/scheduler/quotas?scope=${scope}&name=${encodeURIComponent(name)}`);
        process.stdout.write(`quota ${scope} ${name} removed\n`);
      }),
  );
  return quota;
}
