#!/usr/bin/env node
// Compiles every app and lib to dist/ with SWC (about a second for the whole repo).
// SWC keeps `emitDecoratorMetadata`, which NestJS dependency injection and TypeORM need
// (esbuild drops it). `@myelin/*` aliases resolve at run time through tiny re-export
// packages in dist/node_modules, so the output keeps the source layout and stack traces
// point at the right files. Type checking is `npm run typecheck` (tsc), separate on purpose.
import { transformFile } from '@swc/core';
import { mkdir, readdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');
const swcrc = JSON.parse(await readFile(join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;
const tsconfig = JSON.parse(await readFile(join(root, 'tsconfig.base.json'), 'utf8'));

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === '__fixtures__') continue;
      yield* walk(p);
    } else yield p;
  }
}

const started = Date.now();
await rm(dist, { recursive: true, force: true });
const jobs = [];
for (const top of ['apps', 'libs']) {
  for await (const file of walk(join(root, top))) {
    const rel = relative(root, file);
    if (file.endsWith('.ts') && !file.endsWith('.d.ts') && !/\.(spec|integration-spec|e2e-spec)\.ts$/.test(file)) {
      jobs.push(
        transformFile(file, { ...swcrc, swcrc: false, filename: file, sourceFileName: relative(join(dist, dirname(rel)), file) }).then(
          async (out) => {
            const target = join(dist, rel.replace(/\.ts$/, '.js'));
            await mkdir(dirname(target), { recursive: true });
            await writeFile(target, `${out.code}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
            if (out.map) await writeFile(`${target}.map`, out.map);
          },
        ),
      );
    } else if (/\.(py|sh|json|yml|yaml)$/.test(file) && rel.includes('/assets/')) {
      const target = join(dist, rel);
      await mkdir(dirname(target), { recursive: true });
      jobs.push(copyFile(file, target));
    }
  }
}
await Promise.all(jobs);

for (const [alias, [target]] of Object.entries(tsconfig.compilerOptions.paths)) {
  const pkgDir = join(dist, 'node_modules', alias);
  await mkdir(pkgDir, { recursive: true });
  const entry = relative(pkgDir, join(dist, target.replace(/\.ts$/, '.js')));
  await writeFile(join(pkgDir, 'index.js'), `module.exports = require(${JSON.stringify(entry)});\n`);
}
// Prepare the embedded database template once per PGlite version (makes a fresh `myelin up` fast).
const { embeddedTemplatePath, ensureEmbeddedTemplate } = (await import(join(dist, 'libs', 'persistence', 'src', 'data-source', 'embedded-template.js'))).default;
const templatePath = embeddedTemplatePath();
if (!existsSync(templatePath)) {
  process.stdout.write('preparing the embedded PostgreSQL template (once per PGlite version)...\n');
  await ensureEmbeddedTemplate(templatePath);
}
await writeFile(join(dist, '.build-stamp'), new Date().toISOString());
if (!process.argv.includes('--quiet')) process.stdout.write(`built ${jobs.length} files into dist/ in ${Date.now() - started} ms\n`);
