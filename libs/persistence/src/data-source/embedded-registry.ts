import { openEmbeddedBackend } from './pglite-backend';
import { SessionLock, SharedPGlite } from './pglite-pool';
import { PGliteSession } from './pglite-session';

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
        const backend = await openEmbeddedBackend(dataDir, template);
        return { backend, lock: new SessionLock(), session: new PGliteSession(backend) };
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
  await shared.backend.close();
}
