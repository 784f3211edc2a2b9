/** One problem found in a polyaxonfile, always pointing at a place in a source file. */
export interface SpecError {
  /** The file as given in `SpecSource.path` (or `-P` for a command-line override). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  /** Dotted path of the field, e.g. `hptuning.matrix.lr.logspace` or `ops[1].params.lr` ('' for the whole file). */
  path: string;
  message: string;
}

/** `quickstart.yml:12:5: hptuning.matrix.lr.logspace: expected "start:stop:num"` */
export function formatSpecError(e: SpecError): string {
  const where = `${e.file}:${e.line}:${e.column}`;
  return e.path ? `${where}: ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

/** Thrown by `parsePolyaxonfiles` and `renderTrial`; `message` lists every error, one per line. */
export class SpecValidationError extends Error {
  readonly errors: SpecError[];

  constructor(errors: SpecError[]) {
    super(errors.map(formatSpecError).join('\n'));
    this.name = 'SpecValidationError';
    this.errors = errors;
  }
}

/** Orders errors by file position so reports read top to bottom. */
export function sortErrors(errors: SpecError[], fileOrder: string[]): SpecError[] {
  const rank = (f: string): number => {
    const i = fileOrder.indexOf(f);
    return i < 0 ? fileOrder.length : i;
  };
  return [...errors].sort(
    (a, b) => rank(a.file) - rank(b.file) || a.line - b.line || a.column - b.column || a.path.localeCompare(b.path),
  );
}

/** Damerau-Levenshtein (optimal string alignment) distance. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push(new Array<number>(b.length + 1).fill(0));
    d[i][0] = i;
  }
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `name`, if it is close enough to be a plausible typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    let score = editDistance(lower, cl);
    // a prefix/suffix relation (`request` vs `requests`, `lr` vs `lr_decay`) is a strong hint
    if (cl.startsWith(lower) || lower.startsWith(cl)) score = Math.min(score, 1 + Math.abs(cl.length - lower.length) / 4);
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  return bestScore <= limit ? best : undefined;
}

export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c === undefined ? '' : `; did you mean \`${c}\`?`;
}
