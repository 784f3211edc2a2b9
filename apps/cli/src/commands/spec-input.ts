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

/** Larger than any polyaxonfile (the API takes files of up to 1,000,000 characters). */
const URL_TEMPLATE_MAX_BYTES = 1_000_000;

/**
 * Pipelines: the polyaxonfiles of ops whose template is a `url`, fetched here (the user's machine,
 * with its network and credentials; the platform itself fetches nothing) and sent with the run
 * under their URL, like path templates. A URL that cannot be fetched stops the submission.
 */
export async function fetchUrlTemplates(
  spec: { kind: string; raw: { ops?: Array<{ name: string; template: { url?: string } }> } },
  timeoutMs = 15_000,
): Promise<Array<{ path: string; content: string }>> {
  if (spec.kind !== 'pipeline') return [];
  const out = new Map<string, string>();
  for (const op of spec.raw.ops ?? []) {
    const url = op.template.url;
    if (!url || out.has(url)) continue;
    const fail = (why: string) => new CliError(`op "${op.name}": template ${url}: ${why}`, EXIT.failure);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw fail('not a URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw fail('only http and https URLs are fetched');
    let res: Response;
    try {
      res = await fetch(parsed, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw fail(`cannot fetch it (${cause ?? (error instanceof Error ? error.message : String(error))})`);
    }
    if (!res.ok) throw fail(`cannot fetch it (HTTP ${res.status})`);
    if (Number(res.headers.get('content-length') ?? 0) > URL_TEMPLATE_MAX_BYTES) throw fail(`larger than ${URL_TEMPLATE_MAX_BYTES} bytes`);
    const content = await res.text();
    if (content.length > URL_TEMPLATE_MAX_BYTES) throw fail(`larger than ${URL_TEMPLATE_MAX_BYTES} bytes`);
    out.set(url, content);
  }
  return [...out].map(([path, content]) => ({ path, content }));
}

export function codeDirOf(paths: string[]): string {
  return resolve(dirname(paths[0]));
}
