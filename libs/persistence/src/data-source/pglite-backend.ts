import type { PGlite } from '@electric-sql/pglite';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';

/** The embedded PostgreSQL as the session drives it: wire-protocol messages in, replies out. */
export interface EmbeddedBackend {
  /** One round: the messages in, everything the backend wrote back out. */
  exchange(message: Uint8Array): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Open the embedded PostgreSQL of a data directory ('memory': nothing on disk), on this thread.
 * A new directory starts from the prepared empty cluster when there is one (skips initdb).
 * (PGlite on a worker thread was tried and measured slower: docs/decisions/0003-embedded-postgres.md.)
 */
export async function openEmbeddedBackend(
  dataDir: string | 'memory',
  template: string | undefined,
): Promise<EmbeddedBackend> {
  // Loaded lazily: the WASM module costs memory and start-up time that server mode never pays.
  // PGlite ships a CommonJS build; require keeps jest (CommonJS) and Node on the same path.
  const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  let db: PGlite;
  if (dataDir === 'memory') db = await PGlite.create();
  else {
    const isNew = !existsSync(dataDir) || readdirSync(dataDir).length === 0;
    mkdirSync(dataDir, { recursive: true });
    const loadDataDir =
      isNew && template && existsSync(template) ? new Blob([readFileSync(template)]) : undefined;
    db = await PGlite.create(dataDir, loadDataDir ? { loadDataDir } : {});
  }
  return {
    async exchange(message) {
      // The raw stream hands over the backend's output as it is written; `execProtocolRawSync`
      // would also parse all of it inside PGlite (decoding every row) only for the caller to parse
      // it again. syncToFs does nothing on the Node file system (PostgreSQL's fsync calls reach the disk).
      const chunks: Buffer[] = [];
      await db.execProtocolRawStream(message, {
        syncToFs: false,
        onRawData: (chunk) => void chunks.push(Buffer.from(chunk)), // a view of WASM memory: copied
      });
      return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    },
    close: () => db.close(),
  };
}
