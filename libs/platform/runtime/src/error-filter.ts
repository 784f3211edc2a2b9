import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { throwError } from 'rxjs';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * One error body for every HTTP error: `{code, message, details}`. A 500 is logged with an
 * error id and only the id is returned; no stack trace ever leaves the process.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): unknown {
    // Message handlers: hand the error back to the bus, which replies, retries or dead-letters.
    if (host.getType() !== 'http') return throwError(() => exception);
    const res = host.switchToHttp().getResponse<Response>();
    const bodyParserStatus = (exception as { status?: unknown; type?: unknown }).status;
    if (typeof bodyParserStatus === 'number' && bodyParserStatus >= 400 && bodyParserStatus < 500 && typeof (exception as { type?: unknown }).type === 'string') {
      // Errors of the JSON body parser: too large, malformed JSON.
      const message =
        bodyParserStatus === 413
          ? `request body too large (limit ${String((exception as { limit?: unknown }).limit ?? '')} bytes)`
          : `malformed request body: ${(exception as Error).message}`;
      res.status(bodyParserStatus).json({ code: codeFor(bodyParserStatus), message });
      return undefined;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const raw = exception.getResponse();
      const body: ErrorBody =
        typeof raw === 'object' && raw !== null && 'code' in raw
          ? (raw as ErrorBody)
          : {
              code: codeFor(status),
              message: messageOf(raw, exception.message),
              ...(detailsOf(raw) ? { details: detailsOf(raw) } : {}),
            };
      res.status(status).json(body);
      return undefined;
    }
    const errorId = randomUUID();
    this.logger.error(`error ${errorId}: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`);
    res.status(HttpStatus.INTERNAL_SERVER_ERROR).json({ code: 'internal_error', message: `internal error (id ${errorId})` });
    return undefined;
  }
}

function codeFor(status: number): string {
  const known: Record<number, string> = {
    400: 'bad_request',
    401: 'unauthenticated',
    403: 'forbidden',
    404: 'not_found',
    409: 'conflict',
    413: 'payload_too_large',
    422: 'unprocessable',
    429: 'rate_limited',
  };
  return known[status] ?? `http_${status}`;
}

function messageOf(raw: unknown, fallback: string): string {
  if (typeof raw === 'string') return raw;
  if (raw && typeof raw === 'object' && 'message' in raw) {
    const m = (raw as { message: unknown }).message;
    if (Array.isArray(m)) return m.join('; ');
    if (typeof m === 'string') return m;
  }
  return fallback;
}

function detailsOf(raw: unknown): unknown {
  if (raw && typeof raw === 'object' && 'details' in raw) return (raw as { details: unknown }).details;
  if (raw && typeof raw === 'object' && 'message' in raw && Array.isArray((raw as { message: unknown }).message)) {
    return (raw as { message: unknown[] }).message;
  }
  return undefined;
}
