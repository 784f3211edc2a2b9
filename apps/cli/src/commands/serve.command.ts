import { Command } from 'commander';
import { APP_NAMES, AppName, runStandalone } from '@myelin/runtime';
import { CliError, EXIT } from '../cli-context';
import { loadAppBootstrap } from '../embedded/app-loader';

export function serveCommand(): Command {
  return new Command('serve')
    .description(`run one app alone, configured from the environment (MYELIN_DATABASE_URL, MYELIN_AMQP_URL, MYELIN_REDIS_URL, MYELIN_PORT...): ${APP_NAMES.join(', ')}`)
    .argument('<app>', 'the app to run')
    .action(async (app: string) => {
      if (!(APP_NAMES as readonly string[]).includes(app)) {
        throw new CliError(`unknown app "${app}"; one of: ${APP_NAMES.join(', ')}`, EXIT.usage);
      }
      await runStandalone(app, loadAppBootstrap(app as AppName));
    });
}
