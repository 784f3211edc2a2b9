import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import { compileListing, QueryError } from '@myelin/query';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { PageQueryDto } from '../common/pagination';
import { RUN_FIELDS } from './run-listing';
import type { RunFilter } from '@myelin/persistence';

export class RunListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'status:running|queued, metrics.loss:<0.3', description: 'conditions; `,` AND, `|` OR, `~` NOT, parentheses' })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  query?: string;

  @ApiPropertyOptional({ example: '-metrics.loss,created_at', description: 'comma list, `-` for descending, nulls last' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  sort?: string;

  @ApiPropertyOptional({ description: 'list archived runs instead' })
  @IsOptional()
  @Transform(({ value }) => value === true || value === 'true' || value === '1')
  @IsBoolean()
  archived: boolean = false;
}

/** Compile `query`/`sort` for RunsRepository.listFiltered (placeholders from $2); a bad one is a 400 pointing at the character. */
export function compileRunListing(query?: string, sort?: string): RunFilter {
  try {
    const compiled = compileListing({ query: query ?? '', sort: sort ?? '' }, RUN_FIELDS, { startIndex: 2 });
    // The query's parameters come first, numbered without gaps from $2: the count query needs only those.
    const highest = Math.max(1, ...[...compiled.where.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    return { where: compiled.where, orderBy: compiled.orderBy, params: compiled.params, whereParamCount: highest - 1 };
  } catch (error) {
    if (error instanceof QueryError) {
      throw new ApiException(ApiExceptionCode.BadRequest, error.message, error.toJSON());
    }
    throw error;
  }
}
