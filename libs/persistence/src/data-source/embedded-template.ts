import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Creating a PostgreSQL cluster (initdb) is most of PGlite's cold start: about 5 s here, against
 * under 2 s to unpack a ready cluster. The build prepares one empty cluster per PGlite version
 * (node_modules/.cache/myelin) and `myelin up` starts a new home from it.
 */
export function embeddedTemplatePath(): string {
  const entry = require.resolve('@electric-sql/pglite');
  const pkgDir = entry.slice(0, entry.lastIndexOf(join('@electric-sql', 'pglite')) + join('@electric-sql', 'pglite').length);
  const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  return join(dirname(dirname(pkgDir)), '.cache', 'myelin', `pglite-${version}-template.tar.gz`);
}

export async function ensureEmbeddedTemplate(path = embeddedTemplatePath()): Promise<string> {
  if (existsSync(path)) return path;
  const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  const dir = await mkdtemp(join(tmpdir(), 'myelin-pglite-template-'));
  try {
    const db = await PGlite.create(join(dir, 'db'));
    const blob = await db.dumpDataDir('gzip');
    await db.close();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, Buffer.from(await blob.arrayBuffer()));
    renameSync(`${path}.tmp`, path);
    return path;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
