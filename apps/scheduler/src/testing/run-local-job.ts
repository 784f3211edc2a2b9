import { readFile } from 'node:fs/promises';
import type { ExecutionEntity } from '@myelin/persistence';
import type { ProcessState } from '../executors/executor';
import type { LocalProcessExecutor } from '../executors/local/local-process.executor';

/**
 * Launch a run on the local executor, inspect it until its process is gone (every 20 ms, up to
 * `tries` times), and return how it ended, its stdout, its row with the process fields and the
 * launch notice.
 */
export async function runLocalJobToEnd(
  executor: LocalProcessExecutor,
  run: ExecutionEntity,
  tries = 250,
): Promise<{ state: ProcessState; stdout: string; row: ExecutionEntity; notice: string | undefined }> {
  const launched = await executor.launch(run);
  const row = { ...run, ...launched } as ExecutionEntity;
  for (let i = 0; i < tries; i++) {
    const state = await executor.inspect(row);
    if (state.state !== 'running') {
      const stdout = await readFile(executor.logFiles(row).stdout, 'utf8').catch(() => '');
      return { state, stdout, row, notice: launched.notice };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the job did not end');
}
