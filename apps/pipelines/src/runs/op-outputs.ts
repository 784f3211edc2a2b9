import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParamValue } from '@myelin/spec';

/** Where a succeeded op run's outputs come from (a repository over the run directories, swappable in tests). */
export interface OpOutputsReader {
  read(runUuid: string): Promise<{ outputs: Record<string, ParamValue>; problem?: string }>;
}

/**
 * Outputs are a JSON object the op writes to `outputs.json` in its outputs directory
 * (`$MYELIN_OUTPUTS_PATH/outputs.json`, i.e. `<runs dir>/<run uuid>/outputs/outputs.json` for the
 * local executor). A missing file means no outputs; a file that is not a JSON object is reported.
 */
export class FileOpOutputsReader implements OpOutputsReader {
  constructor(private readonly runsDir: string) {}

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
