import { Command } from 'commander';
import { checkPolyaxonfiles, formatSpecError } from '@myelin/spec';
import { join } from 'node:path';
import { ApiError, codeTreeRef, Run } from '@myelin/sdk';
import { CliError, createContext, EXIT, myelinHome } from '../cli-context';
import { printJson } from '../output/format';
import { codeDirOf, collect, fetchUrlTemplates, parseParamFlags, readSpecFiles, readTemplateFiles } from './spec-input';
import { watchGroup, watchRun } from './watch';

export function runCommand(): Command {
  return new Command('run')
    .description('submit a polyaxonfile as a new run')
    .requiredOption('-f, --file <path>', 'polyaxonfile (repeat to deep-merge several, in order)', collect)
    .option('-P, --param <name=value>', 'override a param (repeatable)', collect)
    .option('-p, --project <name>', 'project ("name" or "owner/name"; default: $MYELIN_PROJECT or "default")')
    .option('--name <name>', 'name of the run')
    .option('--description <text>', 'description of the run')
    .option('--tags <tags>', 'comma-separated tags')
    .option('-w, --watch', 'stream the logs until the run ends; exit 0 if it succeeded, 1 otherwise')
    .option('--json', 'print the created run as JSON')
    .option('--no-cache', 'pipelines: run every `cache: true` op again instead of reusing an earlier identical run')
    .option('--priority <n>', 'queue priority, -1000..1000 (higher starts first; above 0 needs a superuser)')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)')
    .action(async (opts: {
      file: string[];
      param?: string[];
      project?: string;
      name?: string;
      description?: string;
      tags?: string;
      watch?: boolean;
      json?: boolean;
      host?: string;
      cache?: boolean;
      priority?: string;
    }) => {
      if (opts.priority !== undefined && !/^-?\d+$/.test(opts.priority)) throw new CliError(`--priority must be an integer (got "${opts.priority}")`, EXIT.usage);
      const files = readSpecFiles(opts.file);
      const params = parseParamFlags(opts.param);
      // Same validation as the server, locally first: errors show without a round trip.
      const local = checkPolyaxonfiles(files, { params });
      if (!local.ok) {
        for (const e of local.errors) process.stderr.write(`${formatSpecError(e)}\n`);
        throw new CliError(`${local.errors.length} error(s); nothing was submitted`, EXIT.failure);
      }
      const codeDir = codeDirOf(opts.file);
      const templateFiles = [...readTemplateFiles(local.spec, codeDir), ...(await fetchUrlTemplates(local.spec))];
      // A pipeline's code version as submitted: its cached ops are reused only for the same code (the
      // service hashes the directory itself when it can read it; this is for when it cannot).
      const codeRef = local.spec.kind === 'pipeline' ? await codeTreeRef(codeDir, { exclude: process.env['MYELIN_RUNS_DIR'] || join(myelinHome(), 'runs') }) : null;
      const ctx = createContext(opts);
      const project = await ctx.project();
      let run: Run;
      try {
        run = await ctx.client.createRun(project, {
          files,
          params,
          codeDir,
          ...(codeRef ? { codeRef } : {}),
          ...(opts.name ? { name: opts.name } : {}),
          ...(opts.description ? { description: opts.description } : {}),
          ...(opts.tags ? { tags: opts.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
          ...(opts.cache === false ? { noCache: true } : {}),
          ...(templateFiles.length ? { templateFiles } : {}),
          ...(opts.priority !== undefined ? { priority: Number(opts.priority) } : {}),
        });
      } catch (error) {
        if (error instanceof ApiError && Array.isArray(error.details) && error.code === 'invalid_spec') {
          process.stderr.write(`${error.message}\n`);
          throw new CliError('the server refused the polyaxonfile', EXIT.failure);
        }
        throw error;
      }
      if (opts.json) printJson(run);
      else process.stdout.write(`Created run ${run.project}#${run.number} (${run.uuid}), kind ${run.kind}\n`);
      if (opts.watch && run.kind === 'pipeline') {
        const final = await watchGroup(ctx, run, { quiet: !!opts.json, label: 'Pipeline' });
        if (final.status !== 'succeeded') throw new CliError(`pipeline run ${run.number} ${final.status}: ${final.statusMessage}`, EXIT.failure);
      } else if (opts.watch && run.kind === 'group') {
        const final = await watchGroup(ctx, run, { quiet: !!opts.json });
        if (final.status !== 'done') throw new CliError(`group ${run.number} ${final.status}: ${final.statusMessage}`, EXIT.failure);
      } else if (opts.watch) {
        const final = await watchRun(ctx, run, { quiet: !!opts.json });
        if (final.status !== 'succeeded') throw new CliError(`run ${run.number} ${final.status}: ${final.statusMessage}`, EXIT.failure);
      }
    });
}
