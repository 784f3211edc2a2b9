#!/usr/bin/env bash
# The whole test suite: build, types, lint (with the architecture's module boundaries), then every
# jest suite (units, integration against the local PostgreSQL/RabbitMQ/Redis, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n== %s\n' "$*"; }

step "build"
node tools/scripts/build.mjs
step "typecheck"
npx tsc -p tsconfig.json --noEmit
step "lint"
npx nx show projects >/dev/null # computes the project graph the boundary rule reads
npx eslint . --max-warnings 0
step "jest"
# PGlite loads its WASM through dynamic import(), which jest's CommonJS runtime only allows with this flag.
NODE_OPTIONS="--experimental-vm-modules --no-warnings" npx jest --maxWorkers=2 --forceExit "$@"
if [ -d clients/python ]; then
  step "python client"
  (cd clients/python && python3 -m unittest discover -s tests -v)
fi
