import { resolve } from 'node:path';

export type DatabaseTarget = { kind: 'server'; url: string } | { kind: 'embedded'; dataDir: string | 'memory' };

/** `postgres://...` is a PostgreSQL server; `pglite://memory` or `pglite://<path>` is PostgreSQL in-process. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'server', url };
  if (url.startsWith('pglite://')) {
    const rest = url.slice('pglite://'.length);
    if (rest === '' || rest === 'memory') return { kind: 'embedded', dataDir: 'memory' };
    return { kind: 'embedded', dataDir: resolve(rest) };
  }
  throw new Error(`unsupported database url "${url}" (expected postgres:// or pglite://)`);
}
