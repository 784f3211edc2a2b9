import {
  RUN_STATUSES,
  RUN_STATUS_TRANSITIONS,
  FINAL_STATUSES,
  canTransition,
  isStoppable,
  isStatusAllowedForKind,
  RunStatus,
} from './run-status';
import { RUN_KINDS } from './run-kind';

describe('run status state machine', () => {
  // Walk every edge of the complete graph: the table is the single source of truth,
  // and these properties must hold for each (from, to) pair.
  const pairs: Array<[RunStatus, RunStatus]> = RUN_STATUSES.flatMap((from) =>
    RUN_STATUSES.map((to) => [from, to] as [RunStatus, RunStatus]),
  );

  it.each(pairs)('%s -> %s follows the invariants', (from, to) => {
    const allowed = canTransition(from, to);
    expect(allowed).toBe(RUN_STATUS_TRANSITIONS[to].includes(from));
    if (FINAL_STATUSES.has(from)) expect(allowed).toBe(false); // nothing leaves a final status
    if (to === 'created') expect(allowed).toBe(false); // created is initial only
    if (from === to) expect(allowed).toBe(false); // a status is never decided twice
  });

  it('lets every non-final status reach a final one', () => {
    for (const s of RUN_STATUSES.filter((x) => !FINAL_STATUSES.has(x))) {
      expect(canTransition(s, 'failed')).toBe(true);
      expect(canTransition(s, 'stopped')).toBe(true);
    }
  });

  it('keeps the typical lifecycle path legal', () => {
    const path: RunStatus[] = ['created', 'queued', 'scheduled', 'starting', 'running', 'succeeded'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1], path[i])).toBe(true);
  });

  it('supports retries: running -> retrying -> queued -> running', () => {
    expect(canTransition('running', 'retrying')).toBe(true);
    expect(canTransition('retrying', 'queued')).toBe(true);
    expect(canTransition('failed', 'retrying')).toBe(false);
  });

  it('refuses out-of-order events that would move a status backwards', () => {
    expect(canTransition('running', 'scheduled')).toBe(false);
    expect(canTransition('running', 'queued')).toBe(false);
    expect(canTransition('succeeded', 'running')).toBe(false);
    expect(canTransition('stopping', 'running')).toBe(false);
  });

  it('ends groups in done, never succeeded', () => {
    expect(canTransition('running', 'done', 'group')).toBe(true);
    expect(canTransition('running', 'succeeded', 'group')).toBe(false);
    expect(canTransition('running', 'done', 'experiment')).toBe(false);
    for (const kind of RUN_KINDS) expect(isStatusAllowedForKind(kind, 'failed')).toBe(true);
  });

  it('knows what is stoppable', () => {
    expect(isStoppable('running')).toBe(true);
    expect(isStoppable('queued')).toBe(true);
    expect(isStoppable('stopping')).toBe(false);
    expect(isStoppable('succeeded')).toBe(false);
  });
});
