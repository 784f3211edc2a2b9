import { BadRequestException, NotFoundException } from '@nestjs/common';
import { ArtifactError, ArtifactErrorCode } from '@myelin/artifacts';

/** The store's refusals as HTTP answers: an unsafe path is a 400 with the reason, a missing one a 404. */
export function toHttpError(error: unknown): unknown {
  if (error instanceof ArtifactError) {
    return error.code === ArtifactErrorCode.InvalidPath ? new BadRequestException(error.message) : new NotFoundException(error.message);
  }
  return error;
}
