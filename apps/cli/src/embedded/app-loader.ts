import { join } from 'node:path';
import { AppBootstrap, AppName } from '@myelin/runtime';

/**
 * Load an app's `bootstrap` by path at run time. The CLI hosts apps through the AppBootstrap
 * contract and never imports them at compile time: apps stay independent and deployable alone
 * (docs/decisions/0004-embedded-host.md).
 */
export function loadAppBootstrap(name: AppName): AppBootstrap {
  // From dist/apps/cli/src/embedded (or apps/cli/src/embedded under ts-jest) to apps/<name>/src/bootstrap.
  const path = join(__dirname, '..', '..', '..', name, 'src', 'bootstrap');
  const mod = require(path) as { bootstrap?: AppBootstrap };
  if (typeof mod.bootstrap !== 'function') throw new Error(`${path} does not export bootstrap()`);
  return mod.bootstrap;
}
