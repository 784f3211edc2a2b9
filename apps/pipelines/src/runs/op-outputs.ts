import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { codeTreeRef } from '@myelin/sdk';
import type { ParamValue } from '@myelin/spec';

/**
 * What the service reads from the files the local executor works with (a repository over the run
 * directories and the code directories, swappable in tests): a succeeded op run's outputs, and the
 * version of the code an op would run now.
 */
export interface OpOutputsReader {
  read(runUuid: string): Promise<{ outputs: Record<string, ParamValue>; problem?: string }>;
  /**
   * The content reference of the code a pipeline run's next op would run: the pipeline's code
   * snapshot once its first op took it, else the code directory as it is now; null if neither can
   * be read here.
   */
  codeRef(pipelineUuid: string, codeDir: string): Promise<{ ref: string | null; pinned: boolean }>;
}

/**
 * Outputs are a JSON object the op writes to `outputs.json` in its outputs directory
 * (`$MYELIN_OUTPUTS_PATH/outputs.json`, i.e. `<runs dir>/<run uuid>/outputs/outputs.json` for the
 * local executor). A missing file means no outputs; a file that is not a JSON object is reported.
 */
export class FileOpOutputsReader implements OpOutputsReader {
  constructor(private readonly runsDir: string) {}

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

  async read(runUuid: string): Promise<{ outputs: Record<string, ParamValue>; problem?: string }> {
    let text: string;
    try {
      text = await readFile(join(this.runsDir, runUuid, 'outputs', 'outputs.json'), 'utf8');
    } catch {
      return { outputs: {} };
    }
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { outputs: value as Record<string, ParamValue> };
      return { outputs: {}, problem: 'outputs.json is not a JSON object' };
    } catch (error) {
      return { outputs: {}, problem: `outputs.json is not valid JSON (${String(error)})` };
    }
  }
}
