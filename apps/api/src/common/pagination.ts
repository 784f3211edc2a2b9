import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class PageQueryDto {
  @ApiPropertyOptional({ default: 20, minimum: 1, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 20;

  @ApiPropertyOptional({ default: 0, minimum: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset: number = 0;
}

export interface PageView<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Polyaxon's page shape: `{count, next, previous, results}` with links keeping the other query parameters. */
export function page<T>(path: string, query: Record<string, unknown>, q: PageQueryDto, count: number, results: T[]): PageView<T> {
  const link = (offset: number) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && k !== 'limit' && k !== 'offset') params.set(k, String(v));
    params.set('limit', String(q.limit));
    params.set('offset', String(offset));
    return `${path}?${params.toString()}`;
  };
  return {
    count,
    next: q.offset + q.limit < count ? link(q.offset + q.limit) : null,
    previous: q.offset > 0 ? link(Math.max(0, q.offset - q.limit)) : null,
    results,
  };
}

/** Page an in-memory list (small collections: tokens, members, grants...) with the same shape as every listing. */
export function pageOf<T>(path: string, q: PageQueryDto, all: T[], query: Record<string, unknown> = {}): PageView<T> {
  return page(path, query, q, all.length, all.slice(q.offset, q.offset + q.limit));
}
