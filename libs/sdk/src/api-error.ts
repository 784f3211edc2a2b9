/** An error answer of the API, with its HTTP status and the `{code, message, details}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get isNotFound(): boolean {
    return this.status === 404 || this.status === 403;
  }
}

/** The server could not be reached at all. */
export class ConnectionError extends Error {
  constructor(host: string, cause: unknown) {
    super(`cannot reach Myelin at ${host} (${cause instanceof Error ? cause.message : String(cause)}); is \`myelin up\` running?`);
    this.name = 'ConnectionError';
  }
}
