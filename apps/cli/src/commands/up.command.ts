import { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, EXIT, myelinHome } from '../cli-context';
import { startEmbeddedPlatform } from '../embedded/embedded-platform';

export function upCommand(): Command {
  return new Command('up')
    .description('run the whole platform in this process (embedded PostgreSQL, in-process bus, local executor)')
    .option('--port <port>', 'HTTP port', (v) => Number(v), 8000)
    .option('--bind <address>', 'address to listen on', '127.0.0.1')
    .option('--home <dir>', 'where data, runs and credentials live (default: $MYELIN_HOME or ~/.myelin)')
    .action(async (opts: { port: number; bind: string; home?: string }) => {
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
        throw new CliError(`--port must be a port number, got "${opts.port}"`, EXIT.usage);
      }
      const home = resolve(opts.home ?? myelinHome());
      mkdirSync(home, { recursive: true });
      const started = Date.now();
      let platform;
      try {
        platform = await startEmbeddedPlatform({ home, port: opts.port, bind: opts.bind, env: process.env });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new CliError(`port ${opts.port} is in use; is another \`myelin up\` running? (--port to choose another)`);
        throw error;
      }
      process.stdout.write(
        `Myelin is up on ${platform.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (home: ${home})\n` +
          `Next: npx myelin run -f examples/quickstart/polyaxonfile.yml --watch\n`,
      );
      await new Promise<void>((done) => {
        let closing = false;
        const shutdown = (signal: string) => {
          if (closing) return;
          closing = true;
          process.stdout.write(`\n${signal}: stopping Myelin (running jobs keep running and are adopted at the next start)\n`);
          void (platform as { close(): Promise<void> }).close().then(done, done);
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      });
    });
}
