import { HttpException, HttpStatus } from '@nestjs/common';

export enum RunsExceptionCode {
  InvalidSpec = 'invalid_spec',
  UnsupportedKind = 'unsupported_kind',
  NotFound = 'not_found',
  NotStoppable = 'not_stoppable',
  Forbidden = 'forbidden',
}

const STATUS: Record<RunsExceptionCode, HttpStatus> = {
  [RunsExceptionCode.InvalidSpec]: HttpStatus.BAD_REQUEST,
  [RunsExceptionCode.UnsupportedKind]: HttpStatus.UNPROCESSABLE_ENTITY,
  // A run or project the caller may not see is "not found": no existence leak.
  [RunsExceptionCode.NotFound]: HttpStatus.NOT_FOUND,
  [RunsExceptionCode.NotStoppable]: HttpStatus.CONFLICT,
  [RunsExceptionCode.Forbidden]: HttpStatus.FORBIDDEN,
};

export class RunsException extends HttpException {
  constructor(code: RunsExceptionCode, message: string, details?: unknown) {
    super({ code, message, ...(details === undefined ? {} : { details }) }, STATUS[code]);
  }
}
