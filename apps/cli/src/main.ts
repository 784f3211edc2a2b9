import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { ApiError, ConnectionError } from '@myelin/sdk';
import { CliError, EXIT } from './cli-context';
import { checkCommand } from './commands/check.command';
import { runCommand } from './commands/run.command';
import {
  cloneCommand,
  compareCommand,
  deleteCommand,
  exportCommand,
  getCommand,
  logsCommand,
  metricsCommand,
  psCommand,
  statusesCommand,
  stopCommand,
  updateCommand,
} from './commands/runs.commands';
import { experimentCommand } from './commands/experiment.command';
import { groupCommand } from './commands/group.commands';
import { pipelineCommand } from './commands/pipeline.commands';
import { configCommand, loginCommand, logoutCommand, superuserCommand, userCommand, whoamiCommand } from './commands/account.commands';
import { initCommand, projectCommand } from './commands/project.commands';
import { upCommand } from './commands/up.command';
import { serveCommand } from './commands/serve.command';
import { outputsCommand } from './commands/outputs.commands';
import { queueCommand, quotaCommand } from './commands/queue.commands';
import { buildCommand } from './commands/build.commands';

function program(): Command {
  const root = new Command('myelin')
    .description('Myelin: machine-learning experimentation platform (Polyaxon v0.x polyaxonfiles)')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)');
  for (const cmd of [
    upCommand(),
    serveCommand(),
    loginCommand(),
    logoutCommand(),
    whoamiCommand(),
    configCommand(),
    userCommand(),
    superuserCommand(),
    projectCommand(),
    initCommand(),
    checkCommand(),
    runCommand(),
    psCommand(),
    experimentCommand(),
    groupCommand(),
    pipelineCommand(),
    getCommand(),
    updateCommand(),
    statusesCommand(),
    logsCommand(),
    metricsCommand(),
    stopCommand(),
    cloneCommand('restart'),
    cloneCommand('resume'),
    cloneCommand('copy'),
    deleteCommand(),
    compareCommand(),
    exportCommand(),
    outputsCommand(),
    queueCommand(),
    quotaCommand(),
    buildCommand(),
  ]) {
    root.addCommand(cmd);
  }
  // Usage errors exit 2 everywhere (commander's default is 1).
  const exitOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(exitOverride);
  };
  exitOverride(root);
  return root;
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ApiError) {
      process.stderr.write(`error: ${error.message}\n`);
      if (error.status === 401) process.stderr.write('hint: set MYELIN_TOKEN, or start the platform with `myelin up` to get a token\n');
      return error.status === 404 || error.status === 403 ? EXIT.notFound : error.status === 400 ? EXIT.usage : EXIT.failure;
    }
    if (error instanceof ConnectionError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT.failure;
    }
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failure;
  }
}

void main(process.argv).then((code) => {
  // `serve` keeps running (its server holds the process); every other command ends here.
  if (process.argv[2] !== 'serve' || code !== EXIT.ok) process.exit(code);
});
