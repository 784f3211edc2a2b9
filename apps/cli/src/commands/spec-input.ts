import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CliError, EXIT } from '../cli-context';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-P name=value` flags into a record of raw strings (the spec converts them to declared types). */
export function parseParamFlags(flags: string[] = []): Record<string, string> {
  const params: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new CliError(`-P expects name=value, got "${flag}"`, EXIT.usage);
    params[flag.slice(0, eq).trim()] = flag.slice(eq + 1);
  }
  return params;
}

export function readSpecFiles(paths: string[] = []): Array<{ path: string; content: string }> {
  if (!paths.length) throw new CliError('give at least one polyaxonfile with -f', EXIT.usage);
  return paths.map((path) => {
    try {
      return { path, content: readFileSync(path, 'utf8') };
    } catch (error) {
      throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, EXIT.usage);
    }
  });
}

/** The code of a run submitted from this machine: the directory of its first polyaxonfile. */
/**
 * Pipelines: the polyaxonfiles of ops whose template is a `path` in the project code (relative to
 * the code directory), sent with the run so the platform compiles them as written.
 */
export function readTemplateFiles(spec: { kind: string; raw: { ops?: Array<{ name: string; template: { path?: string } }> } }, codeDir: string): Array<{ path: string; content: string }> {
  if (spec.kind !== 'pipeline') return [];
  const out = new Map<string, string>();
  for (const op of spec.raw.ops ?? []) {
    const path = op.template.path;
    if (!path || out.has(path)) continue;
    const file = resolve(codeDir, path);
    if (!existsSync(file)) throw new CliError(`op "${op.name}": template ${path} not found (looked for ${file})`, EXIT.failure);
    out.set(path, readFileSync(file, 'utf8'));
  }
  return [...out].map(([path, content]) => ({ path, content }));
}

export function codeDirOf(paths: string[]): string {
  return resolve(dirname(paths[0]));
}
