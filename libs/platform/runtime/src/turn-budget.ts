/**
 * At most `perTurn` HTTP requests begin their handling per turn of the event loop; the others wait,
 * in order of arrival, for the next turns.
 *
 * Why: on the embedded platform every service shares one thread, and the database answers
 * without yielding, so a request runs from its parsing to its database writes in one go. A client
 * that keeps 32 submissions in flight had the loop handle all 32 in every turn (100-150 ms), and
 * every step of the scheduler that waits for a turn (a process-start reply, a grouped status
 * write) waited that long: runs that had ended stayed unrecorded and slots idle for seconds while
 * the submissions came in. Handled a few per turn, the requests cost the same CPU, and the work
 * of the runs already admitted goes in between (docs/decisions/0015, twelfth pass).
 *
 * A request that finds the budget unused starts in the same turn (after the current I/O phase),
 * so an idle platform answers as fast as before.
 */
/** See TurnBudget.hold. */
export const DEFAULT_MAX_HOLD_MS = 50;

export class TurnBudget {
  private readonly waiting: Array<{ start: () => void; since: number }> = [];
  private pumping = false;
  private holds = 0;
  private holdTimer?: NodeJS.Timeout;

  constructor(
    readonly perTurn: number,
    /** The longest a request waits for a hold to end: then one begins per turn (see hold). */
    readonly maxHoldMs = DEFAULT_MAX_HOLD_MS,
  ) {
    if (!Number.isInteger(perTurn) || perTurn < 0) throw new RangeError(`requests per turn must be a whole number >= 0, not ${perTurn}`);
  }

  /** Requests waiting for a turn now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Run `start` when the budget allows: at once with a budget of 0 (no limit), else in a turn with room. */
  admit(start: () => void): void {
    if (this.perTurn === 0) return start();
    this.waiting.push({ start, since: Date.now() });
    this.schedulePump();
  }

  /**
   * Work more urgent than new requests is under way in this process (the scheduler recording a
   * run's end and filling its slot): until every hold is released, waiting requests do not begin,
   * except one per turn once the oldest has waited `maxHoldMs`. Requests already begun go on.
   *
   * Why: with the loop saturated by a flood of submissions, every step of that work that waits for
   * a turn waited for the requests begun in it; a slot's end-to-next-start took several such turns.
   * Held, the steps follow each other at once, and the requests get the loop back after them.
   * Returns the release (idempotent). A budget of 0 (no limit) holds nothing.
   */
  hold(): () => void {
    if (this.perTurn === 0) return () => undefined;
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      if (this.holds === 0) {
        if (this.holdTimer) clearTimeout(this.holdTimer);
        this.holdTimer = undefined;
        this.schedulePump();
      }
    };
  }

  /** Held now (tests, diagnostics). */
  get held(): boolean {
    return this.holds > 0;
  }

  private schedulePump(): void {
    if (this.pumping || !this.waiting.length) return;
    this.pumping = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.pumping = false;
    let limit = this.perTurn;
    if (this.holds > 0) {
      const waited = Date.now() - this.waiting[0].since;
      if (waited < this.maxHoldMs) {
        // Nothing begins until the hold ends (release pumps) or the oldest has waited long enough.
        if (!this.holdTimer) {
          this.holdTimer = setTimeout(() => {
            this.holdTimer = undefined;
            this.schedulePump();
          }, this.maxHoldMs - waited);
        }
        return;
      }
      limit = 1;
    }
    // A setImmediate queued from inside this callback runs in the next turn, not in this one:
    // the rest waits for the loop to go round (and the I/O that arrived meanwhile to be handled).
    for (let started = 0; started < limit && this.waiting.length; started++) {
      const { start } = this.waiting.shift() as { start: () => void };
      try {
        start();
      } catch {
        // A start reports its own errors (the middleware hands them to the request's handler); the others still go.
      }
    }
    this.schedulePump();
  };
}

const budgets = new Map<number, TurnBudget>();

/**
 * The process's budget for `perTurn`: the apps hosted in one process (`myelin up`) share one
 * event loop, so they share one budget.
 */
export function processTurnBudget(perTurn: number): TurnBudget {
  let budget = budgets.get(perTurn);
  if (!budget) budgets.set(perTurn, (budget = new TurnBudget(perTurn)));
  return budget;
}

/**
 * Express-style middleware: the request goes on once the budget lets it. Requests `exempt` says
 * yes to go on at once: health probes, which must answer in time however many requests wait
 * (an orchestrator restarts a process whose probe times out).
 */
export function turnBudgetMiddleware(
  budget: TurnBudget,
  exempt: (path: string) => boolean = () => false,
): (req: { path?: string; url?: string }, res: unknown, next: (error?: unknown) => void) => void {
  return (req, _res, next) => {
    if (exempt(req.path ?? req.url ?? '')) return next();
    budget.admit(() => {
      try {
        next();
      } catch (error) {
        next(error);
      }
    });
  };
}

/** The health endpoints every app serves (health.controller.ts). */
export const isHealthProbe = (path: string): boolean => path === '/healthz' || path === '/readyz';
