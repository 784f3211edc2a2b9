import { Command } from 'commander';
import { CliError, createContext, EXIT } from '../cli-context';
import { ago, printJson, table } from '../output/format';
import { hostOption, schedulerClient } from './queue.commands';

interface BuildEntry {
  key: string;
  image: string;
  project: string;
  runUuid: string;
  codeRef: string;
  createdAt: string;
}

/** `myelin build`: the image build cache of the Kubernetes executor (docs/decisions/0014-builds.md). */
export function buildCommand(): Command {
  const build = new Command('build').description(
    'the build cache: images built by earlier runs, reused by runs with the same build section and commit (or with no code in the build context)',
  );

  build.addCommand(
    hostOption(new Command('ls'))
      .description("a project's cached images (superusers)")
      .requiredOption('-p, --project <owner/name>', 'project')
      .option('--json', 'print as JSON')
      .action(async (opts: { project: string; json?: boolean; host?: string }) => {
        const { results } = await schedulerClient(opts).call<{ results: BuildEntry[] }>('GET', `/api/v1/scheduler/builds?project=${encodeURIComponent(opts.project)}`);
        if (opts.json) return printJson(results);
        if (!results.length) return void process.stdout.write(`No cached image for ${opts.project}\n`);
        process.stdout.write(
          table(
            ['IMAGE', 'RUN', 'CODE', 'BUILT'],
            results.map((b) => [b.image, b.runUuid, b.codeRef || '-', ago(b.createdAt)]),
          ),
        );
      }),
  );

  build.addCommand(
    hostOption(new Command('invalidate'))
      .description("drop a cached image, so the next run with the same build builds again: a run's (its submitter or a superuser), or with --all a whole project's (superusers)")
      .argument('[run]', 'run number (in the project) or uuid')
      .option('-p, --project <name>', 'project ("name" or "owner/name")')
      .option('--all', "every cached image of the project")
      .option('--api-host <url>', 'API URL, to resolve a run number (default: $MYELIN_HOST or http://127.0.0.1:8000)')
      .option('--json', 'print the result as JSON')
      .action(async (ref: string | undefined, opts: { project?: string; all?: boolean; apiHost?: string; host?: string; json?: boolean }) => {
        if (!!ref === !!opts.all) throw new CliError('give a run, or --all with -p <owner/name>', EXIT.usage);
        const scheduler = schedulerClient(opts);
        if (opts.all) {
          if (!opts.project?.includes('/')) throw new CliError('--all needs -p <owner/name>', EXIT.usage);
          const result = await scheduler.call<{ project: string; invalidated: number }>('DELETE', `/api/v1/scheduler/builds?project=${encodeURIComponent(opts.project)}`);
          if (opts.json) return printJson(result);
          return void process.stdout.write(`${result.project}: ${result.invalidated} cached image(s) dropped\n`);
        }
        const run = await createContext({ ...(opts.apiHost ? { host: opts.apiHost } : {}), ...(opts.project ? { project: opts.project } : {}) }).resolveRun(ref as string);
        const result = await scheduler.call<{ runUuid: string; key: string; image: string | null; invalidated: boolean }>('DELETE', `/api/v1/scheduler/builds/${run.uuid}`);
        if (opts.json) return printJson(result);
        process.stdout.write(
          result.invalidated
            ? `run ${run.project}#${run.number}: cached image ${result.image} dropped; the next run with this build builds again\n`
            : `run ${run.project}#${run.number}: no cached image for its build (nothing to drop)\n`,
        );
      }),
  );
  return build;
}
