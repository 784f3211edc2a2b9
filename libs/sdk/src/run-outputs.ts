/**
 * The outputs a run leaves for the ops after it in a pipeline (`{{ ops.<op>.outputs.<name> }}`):
 * a JSON object in `outputs.json` at the root of the run's outputs, written by the job itself or
 * by the tracking clients' `log_outputs`. Read by the pipelines service from the run's directory,
 * or through tracking from the artifacts store; both parse it here, so both say the same.
 */
export const RUN_OUTPUTS_FILE = 'outputs.json';

/** Larger than any set of values a pipeline passes on; a bigger file is refused, not loaded. */
export const RUN_OUTPUTS_MAX_BYTES = 1024 * 1024;

/** Why an `outputs.json` of `bytes` cannot be used, or undefined when its size is fine. */
export function runOutputsSizeProblem(bytes: number): string | undefined {
  return bytes > RUN_OUTPUTS_MAX_BYTES ? `${RUN_OUTPUTS_FILE} is larger than ${RUN_OUTPUTS_MAX_BYTES} bytes` : undefined;
}

export type ParsedRunOutputs = { outputs: Record<string, unknown>; problem?: undefined } | { outputs: null; problem: string };

/** The object in an `outputs.json`, or why it cannot be used. */
export function parseRunOutputs(text: string): ParsedRunOutputs {
  const tooLarge = runOutputsSizeProblem(Buffer.byteLength(text));
  if (tooLarge) return { outputs: null, problem: tooLarge };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { outputs: null, problem: `${RUN_OUTPUTS_FILE} is not valid JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { outputs: null, problem: `${RUN_OUTPUTS_FILE} is not a JSON object` };
  return { outputs: value as Record<string, unknown> };
}
