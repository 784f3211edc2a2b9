import { ConfigError } from '@myelin/config';
import { AppBootstrap } from './app-host';

/**
 * Entry point of an app running alone (distributed mode): configuration from the environment,
 * its own port, graceful stop on SIGTERM/SIGINT, exit code 78 (EX_CONFIG) on bad configuration.
 */
export async function runStandalone(name: string, bootstrap: AppBootstrap): Promise<void> {
  try {
    // The one place process.env enters an app.
    const handle = await bootstrap({ env: process.env, listen: true });
    process.stdout.write(`myelin ${name} listening on port ${handle.port}\n`);
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      process.stdout.write(`myelin ${name}: ${signal}, shutting down\n`);
      handle.close().then(
        () => process.exit(0),
        (e: unknown) => {
          process.stderr.write(`myelin ${name}: shutdown failed: ${String(e)}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`myelin ${name}: ${error.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`myelin ${name}: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}
