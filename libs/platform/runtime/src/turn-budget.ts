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
export class TurnBudget {
  private readonly waiting: Array<() => void> = [];
  private pumping = false;

  constructor(readonly perTurn: number) {
    if (!Number.isInteger(perTurn) || perTurn < 0) throw new RangeError(`requests per turn must be a whole number >= 0, not ${perTurn}`);
  }

  /** Requests waiting for a turn now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Run `start` when the budget allows: at once with a budget of 0 (no limit), else in a turn with room. */
  admit(start: () => void): void {
    if (this.perTurn === 0) return start();
    this.waiting.push(start);
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    // A setImmediate queued from inside this callback runs in the next turn, not in this one:
    // the rest waits for the loop to go round (and the I/O that arrived meanwhile to be handled).
    for (let started = 0; started < this.perTurn && this.waiting.length; started++) {
      const start = this.waiting.shift() as () => void;
      try {
        start();
      } catch {
        // A start reports its own errors (the middleware hands them to the request's handler); the others still go.
      }
    }
    if (this.waiting.length) setImmediate(this.pump);
    else this.pumping = false;
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
