import { HttpException, HttpStatus } from '@nestjs/common';

export enum ApiExceptionCode {
  InvalidSpec = 'invalid_spec',
  UnsupportedKind = 'unsupported_kind',
  NotFound = 'not_found',
  Conflict = 'conflict',
  Forbidden = 'forbidden',
  BadRequest = 'bad_request',
}

const STATUS: Record<ApiExceptionCode, HttpStatus> = {
  [ApiExceptionCode.InvalidSpec]: HttpStatus.BAD_REQUEST,
  [ApiExceptionCode.BadRequest]: HttpStatus.BAD_REQUEST,
  [ApiExceptionCode.UnsupportedKind]: HttpStatus.UNPROCESSABLE_ENTITY,
  // Something the caller may not see is "not found": no existence leak.
  [ApiExceptionCode.NotFound]: HttpStatus.NOT_FOUND,
  [ApiExceptionCode.Conflict]: HttpStatus.CONFLICT,
  [ApiExceptionCode.Forbidden]: HttpStatus.FORBIDDEN,
};

/** Domain errors of the API with their code; the HTTP filter renders `{code, message, details}`. */
export class ApiException extends HttpException {
  constructor(
    readonly code: ApiExceptionCode,
    message: string,
    details?: unknown,
  ) {
    super({ code, message, ...(details === undefined ? {} : { details }) }, STATUS[code]);
  }
}
