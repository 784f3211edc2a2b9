import { Command } from 'commander';
import { psCommand } from './runs.commands';

/** Polyaxon's spelling: `myelin experiment ls` is `myelin ps`. */
export function experimentCommand(): Command {
  const experiment = new Command('experiment').description('experiments (Polyaxon-style verbs)');
  experiment.addCommand(psCommand().name('ls').description("list the project's runs (same as `myelin ps`)"));
  return experiment;
}
