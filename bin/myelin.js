#!/usr/bin/env node
'use strict';
// The `myelin` command. Runs the compiled CLI from dist/, compiling first when dist/ is missing
// or older than the sources (a fresh clone, a `git pull`): the build takes about a second.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');
const main = join(root, 'dist', 'apps', 'cli', 'src', 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '__fixtures__') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function stale() {
  if (!existsSync(main) || !existsSync(stamp)) return true;
  if (process.env.MYELIN_SKIP_BUILD_CHECK === '1') return false;
  const built = statSync(stamp).mtimeMs;
  return newestSource(join(root, 'apps')) > built || newestSource(join(root, 'libs')) > built;
}

if (stale()) {
  execFileSync(process.execPath, [join(root, 'tools', 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
}
require(main);
