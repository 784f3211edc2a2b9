import { Command } from 'commander';
import { checkPolyaxonfiles, formatSpecError, summarizeSpec } from '@myelin/spec';
import { CliError, EXIT } from '../cli-context';
import { printJson } from '../output/format';
import { collect, parseParamFlags, readSpecFiles } from './spec-input';

export function checkCommand(): Command {
  return new Command('check')
    .description('validate polyaxonfiles without running them: exit 0 with a summary, 1 with every error')
    .requiredOption('-f, --file <path>', 'polyaxonfile (repeat to deep-merge several, in order)', collect)
    .option('-P, --param <name=value>', 'override a param (repeatable)', collect)
    .option('--json', 'print the compiled spec or the errors as JSON')
    .action((opts: { file: string[]; param?: string[]; json?: boolean }) => {
      const result = checkPolyaxonfiles(readSpecFiles(opts.file), { params: parseParamFlags(opts.param) });
      if (!result.ok) {
        if (opts.json) printJson({ ok: false, errors: result.errors });
        else for (const e of result.errors) process.stderr.write(`${formatSpecError(e)}\n`);
        throw new CliError(`${result.errors.length} error(s) in ${opts.file.join(', ')}`, EXIT.failure);
      }
      if (opts.json) printJson({ ok: true, spec: result.spec });
      else process.stdout.write(`${summarizeSpec(result.spec)}\n`);
    });
}
