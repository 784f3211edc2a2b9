/** Errors the engine throws; `code` says which rule was broken. */
export type HpoErrorCode =
  | 'unsupported-space'
  | 'empty-space'
  | 'unknown-trial'
  | 'trial-not-pending'
  | 'invalid-result'
  | 'invalid-state'
  | 'algorithm-mismatch';

export class HpoError extends Error {
  constructor(
    readonly code: HpoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HpoError';
  }
}
