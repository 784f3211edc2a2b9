import { EmbeddedAutovacuum, startEmbeddedAutovacuum } from './embedded-autovacuum';
import { openEmbeddedBackend } from './pglite-backend';
import { SessionLock, SharedPGlite } from './pglite-pool';
import { PGliteSession } from './pglite-session';

interface Entry {
  opened: Promise<{ shared: SharedPGlite; autovacuum: EmbeddedAutovacuum }>;
  refs: number;
}

const instances = new Map<string, Entry>();

/**
 * One PGlite instance per data directory per process, shared by every service of `myelin up`
 * (a data directory can only be opened once). Reference-counted: the last release closes it.
 * Each instance gets the autovacuum a single-user PGlite backend does not do itself
 * (./embedded-autovacuum.ts).
 */
export async function acquireEmbedded(dataDir: string | 'memory', template?: string): Promise<SharedPGlite> {
  let entry = instances.get(dataDir);
  if (!entry) {
    entry = {
      refs: 0,
      opened: (async () => {
        const backend = await openEmbeddedBackend(dataDir, template);
        const shared = { backend, lock: new SessionLock(), session: new PGliteSession(backend) };
        return { shared, autovacuum: startEmbeddedAutovacuum(shared) };
      })(),
    };
    instances.set(dataDir, entry);
  }
  entry.refs++;
  try {
    return (await entry.opened).shared;
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
  const { shared, autovacuum } = await entry.opened;
  await autovacuum.stop();
  await shared.backend.close();
}
