import { statSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunOutputsRead } from '@myelin/contracts';
import { codeTreeRef, parseRunOutputs, RUN_OUTPUTS_FILE, runOutputsSizeProblem } from '@myelin/sdk';
import type { ParamValue } from '@myelin/spec';

/**
 * What an op run left: its outputs, or why they cannot be used; `absentElsewhere` when the run's
 * directory is on another host and the store tracking serves has no `outputs.json` for it (yet: an
 * S3 store gets a local job's outputs only after its final status).
 */
export interface OpRunOutputs {
  outputs: Record<string, ParamValue>;
  problem?: string;
  absentElsewhere?: boolean;
}

/**
 * What the service reads from the files the local executor works with (a repository over the run
 * directories and the code directories, swappable in tests): a succeeded op run's outputs, and the
 * version of the code an op would run now.
 */
export interface OpOutputsReader {
  read(runUuid: string): Promise<OpRunOutputs>;
  /**
   * The content reference of the code a pipeline run's next op would run: the pipeline's code
   * snapshot once its first op took it, else the code directory as it is now; null if neither can
   * be read here.
   */
  codeRef(pipelineUuid: string, codeDir: string): Promise<{ ref: string | null; pinned: boolean }>;
}

/** Where a run's outputs are read when its directory is not on this host (tracking, over the bus). */
export type RemoteOutputs = (runUuid: string) => Promise<RunOutputsRead.Reply>;

/**
 * Outputs are a JSON object the op writes to `outputs.json` in its outputs directory
 * (`$MYELIN_OUTPUTS_PATH/outputs.json`, i.e. `<runs dir>/<run uuid>/outputs/outputs.json` for the
 * local executor). When the run's directory is here, it is the answer: a missing file means no
 * outputs, a file that is not a JSON object is reported. When it is not (another host, a
 * Kubernetes pod writing to an outputs claim), `remote` asks the service that serves the run's
 * outputs; its failure is thrown, so the caller tries again rather than take "no outputs".
 */
export class FileOpOutputsReader implements OpOutputsReader {
  constructor(
    private readonly runsDir: string,
    private readonly remote?: RemoteOutputs,
  ) {}

  async codeRef(pipelineUuid: string, codeDir: string): Promise<{ ref: string | null; pinned: boolean }> {
    // The local executor's layout: a parent's snapshot in <runs>/<parent>/code, complete once its
    // marker exists; it never changes after that (`pinned`: its reference can be kept).
    const snapshot = join(this.runsDir, pipelineUuid);
    if (await access(join(snapshot, '.myelin', 'code-snapshot')).then(() => true, () => false)) {
      const ref = await codeTreeRef(join(snapshot, 'code'));
      if (ref) return { ref, pinned: true };
    }
    return { ref: await codeTreeRef(codeDir, { exclude: this.runsDir }), pinned: false };
  }

  async read(runUuid: string): Promise<OpRunOutputs> {
    const dir = join(this.runsDir, runUuid);
    const file = join(dir, 'outputs', RUN_OUTPUTS_FILE);
    let text: string | undefined;
    try {
      // Most ops write no outputs: a missing file is answered without an error (an ENOENT from
      // the promise API builds an Error with its stack, then the directory was looked at the same
      // way; both stats are a few us on the local disk this reader is for).
      const found = statSync(file, { throwIfNoEntry: false });
      if (found) {
        // Not loaded when it is larger than any set of values a pipeline passes on.
        const tooLarge = runOutputsSizeProblem(found.size);
        if (tooLarge) return { outputs: {}, problem: tooLarge };
        text = await readFile(file, 'utf8');
      }
    } catch {
      // Not readable here: as if it were not here.
    }
    if (text === undefined) {
      const here = existsHere(dir);
      if (here || !this.remote) return { outputs: {} };
      const reply = await this.remote(runUuid);
      if (reply.problem !== undefined) return { outputs: {}, problem: reply.problem };
      return reply.outputs === null ? { outputs: {}, absentElsewhere: true } : { outputs: reply.outputs as Record<string, ParamValue> };
    }
    const parsed = parseRunOutputs(text);
    return parsed.problem === undefined ? { outputs: parsed.outputs as Record<string, ParamValue> } : { outputs: {}, problem: parsed.problem };
  }
}

/** Whether a path is on this host (false when it cannot be looked at, as `access` said before). */
function existsHere(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}
