import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MyelinClient, Run } from '@myelin/sdk';

/** Exit codes that mean something to scripts. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

export interface Credentials {
  host?: string;
  token?: string;
  username?: string;
}

/** Where the CLI keeps its state: $MYELIN_HOME or ~/.myelin (the same home `myelin up` uses). */
export function myelinHome(env: NodeJS.ProcessEnv = process.env): string {
  return env['MYELIN_HOME'] || join(homedir(), '.myelin');
}

export function readCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const file = join(myelinHome(env), 'credentials.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
  } catch {
    throw new CliError(`cannot read ${file}: not valid JSON`);
  }
}

/** Host and token: flags, then MYELIN_HOST/MYELIN_TOKEN, then the credentials `myelin up` wrote. */
export function resolveConnection(opts: { host?: string }, env: NodeJS.ProcessEnv = process.env) {
  const creds = readCredentials(env);
  const host = opts.host ?? env['MYELIN_HOST'] ?? creds.host ?? 'http://127.0.0.1:8000';
  const token = env['MYELIN_TOKEN'] ?? creds.token;
  const trackingHost = env['MYELIN_TRACKING_HOST'];
  return { host, token, trackingHost, username: creds.username };
}

export interface CommandContext {
  client: MyelinClient;
  /** `owner/name` of the project commands act on. */
  project(): Promise<string>;
  /** A run by uuid, or by number within the project. */
  resolveRun(ref: string): Promise<Run>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The project linked to this directory by `myelin init` (nearest `.myelin.json` upwards). */
export function linkedProject(from = process.cwd()): string | undefined {
  let dir = from;
  for (;;) {
    const file = join(dir, '.myelin.json');
    if (existsSync(file)) {
      try {
        return (JSON.parse(readFileSync(file, 'utf8')) as { project?: string }).project;
      } catch {
        throw new CliError(`cannot read ${file}: not valid JSON`);
      }
    }
    const parent = join(dir, '..');
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function createContext(opts: { host?: string; project?: string }, env: NodeJS.ProcessEnv = process.env): CommandContext {
  const conn = resolveConnection(opts, env);
  const client = new MyelinClient({
    host: conn.host,
    token: conn.token,
    ...(conn.trackingHost ? { trackingHost: conn.trackingHost } : {}),
  });
  let username = conn.username;
  const project = async (): Promise<string> => {
    const name = opts.project ?? env['MYELIN_PROJECT'] ?? linkedProject() ?? 'default';
    if (name.includes('/')) return name;
    username ??= (await client.whoami()).username;
    return `${username}/${name}`;
  };
  return {
    client,
    project,
    async resolveRun(ref: string) {
      if (UUID.test(ref)) return client.getRunByUuid(ref);
      if (!/^\d+$/.test(ref)) throw new CliError(`"${ref}" is neither a run uuid nor a run number`, EXIT.usage);
      return client.getRun(await project(), ref);
    },
  };
}
