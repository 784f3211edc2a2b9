import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { SessionLock, SharedPGlite } from './pglite-pool';

interface Entry {
  shared: Promise<SharedPGlite>;
  refs: number;
}

const instances = new Map<string, Entry>();

/**
 * One PGlite instance per data directory per process, shared by every service of `myelin up`
 * (a data directory can only be opened once). Reference-counted: the last release closes it.
 */
export async function acquireEmbedded(dataDir: string | 'memory', template?: string): Promise<SharedPGlite> {
  let entry = instances.get(dataDir);
  if (!entry) {
    entry = {
      refs: 0,
      shared: (async () => {
        // Loaded lazily: the WASM module costs memory and start-up time that server mode never pays.
        // PGlite ships a CommonJS build; require keeps jest (CommonJS) and Node on the same path.
        const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
        if (dataDir === 'memory') return { db: await PGlite.create(), lock: new SessionLock() };
        // A new data directory starts from the prepared empty cluster when there is one (skips initdb).
        const isNew = !existsSync(dataDir) || readdirSync(dataDir).length === 0;
        mkdirSync(dataDir, { recursive: true });
        const loadDataDir = isNew && template && existsSync(template) ? new Blob([readFileSync(template)]) : undefined;
        const db = await PGlite.create(dataDir, loadDataDir ? { loadDataDir } : {});
        return { db, lock: new SessionLock() };
      })(),
    };
    instances.set(dataDir, entry);
  }
  entry.refs++;
  try {
    return await entry.shared;
  } catch (error) {
    instances.delete(dataDir);
    throw error;
  }
}

export async function releaseEmbedded(dataDir: string | 'memory'): Promise<void> {
  const entry = instances.get(dataDir);
  if (!entry) return;
  entry.refs--;
  if (entry.refs > 0) return;
  instances.delete(dataDir);
  const shared = await entry.shared;
  await shared.db.close();
}
