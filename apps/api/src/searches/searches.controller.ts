import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { PageQueryDto, pageOf } from '../common/pagination';
import { ApiProperty, ApiPropertyOptional, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuthenticatedRequest } from '@myelin/runtime';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { ProjectsService } from '../projects/projects.service';
import { compileRunListing } from '../runs/run-list-query';

class SavedSearchDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(200) name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4000) query?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1000) sort?: string;
}

/** A user's saved run searches per project (name, query, sort), checked when saved. */
@ApiTags('searches')
@ApiSecurity('token')
@Controller('api/v1/searches/:owner/:project')
export class SearchesController {
  constructor(
    private readonly projects: ProjectsService,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Your saved searches in this project' })
  async list(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Query() q: PageQueryDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    return pageOf(`/api/v1/searches/${owner}/${name}`, q, (await this.dataSource.query(
      `SELECT "id", "name", "query", "sort", "created_at" AS "createdAt" FROM "core"."saved_searches"
        WHERE "project_id" = $1 AND "user_id" = $2 ORDER BY "name"`,
      [project.id, req.identity.userId],
    )) as unknown[]);
  }

  @Post()
  @ApiOperation({ summary: 'Save a search (its query and sort are validated first); same name replaces' })
  async save(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: SavedSearchDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    compileRunListing(body.query, body.sort); // 400 with the position when invalid
    const id = randomUUID();
    await this.dataSource.query(
      `INSERT INTO "core"."saved_searches" ("id", "project_id", "user_id", "name", "query", "sort") VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT ("project_id", "user_id", "name") DO UPDATE SET "query" = EXCLUDED."query", "sort" = EXCLUDED."sort"`,
      [id, project.id, req.identity.userId, body.name, body.query ?? '', body.sort ?? ''],
    );
    return { name: body.name, query: body.query ?? '', sort: body.sort ?? '' };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete one of your saved searches' })
  async delete(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<void> {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    const rows = (await this.dataSource.query(
      `DELETE FROM "core"."saved_searches" WHERE "project_id" = $1 AND "user_id" = $2 AND ("id"::text = $3 OR "name" = $3) RETURNING "id"`,
      [project.id, req.identity.userId, id],
    )) as unknown[];
    if (!rows.length) throw new ApiException(ApiExceptionCode.NotFound, `saved search ${id} not found`);
  }
}
