/** The kinds of run a polyaxonfile can describe. A group and a pipeline are parents of other runs. */
export const RUN_KINDS = ['experiment', 'group', 'job', 'build', 'notebook', 'tensorboard', 'pipeline'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export function isRunKind(value: unknown): value is RunKind {
  return typeof value === 'string' && (RUN_KINDS as readonly string[]).includes(value);
}

/** Kinds whose runs are parents: they never execute a process themselves. */
export const PARENT_KINDS: ReadonlySet<RunKind> = new Set<RunKind>(['group', 'pipeline']);
