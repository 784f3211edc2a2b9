import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { PageQueryDto, pageOf } from '../common/pagination';
import { ApiProperty, ApiPropertyOptional, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsString, MaxLength, Min, MinLength } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { RunEntity } from '@myelin/persistence';
import { AuthenticatedRequest } from '@myelin/runtime';
import { ActivityService } from '../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { ProjectsService } from '../projects/projects.service';
import { toRunView } from '../runs/run.view';

class CreateSelectionDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(200) name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;
  @ApiPropertyOptional({ type: [Number], description: 'run numbers' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10_000)
  @IsInt({ each: true })
  @Min(1, { each: true })
  runs?: number[];
}

class ChangeSelectionDto {
  @ApiProperty({ enum: ['add', 'remove', 'replace'] }) @IsIn(['add', 'remove', 'replace']) operation!: 'add' | 'remove' | 'replace';
  @ApiProperty({ type: [Number], description: 'run numbers' })
  @IsArray()
  @ArrayMaxSize(10_000)
  @IsInt({ each: true })
  @Min(1, { each: true })
  runs!: number[];
}

/** Selections: hand-picked sets of runs to compare (Polyaxon's "selection" groups). */
@ApiTags('selections')
@ApiSecurity('token')
@Controller('api/v1/:owner/:project/selections')
export class SelectionsController {
  constructor(
    private readonly projects: ProjectsService,
    private readonly activity: ActivityService,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a selection of runs (member)' })
  async create(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: CreateSelectionDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name, 'member');
    const id = randomUUID();
    const number = await this.dataSource.transaction(async (m) => {
      const [{ n }] = (await m.query(
        `SELECT coalesce(max("number"), 0) + 1 AS n FROM "core"."selections" WHERE "project_id" = $1`,
        [project.id],
      )) as Array<{ n: number }>;
      await m.query(`INSERT INTO "core"."selections" ("id", "project_id", "number", "name", "description", "created_by") VALUES ($1, $2, $3, $4, $5, $6)`, [
        id, project.id, Number(n), body.name, body.description ?? '', req.identity.userId,
      ]);
      await this.change(m, id, project.id, 'add', body.runs ?? []);
      return Number(n);
    });
    await this.activity.record(req.identity, 'selection.created', 'selection', id, project.id, { name: body.name });
    return this.view(project.id, number, `${owner}/${name}`);
  }

  @Get()
  @ApiOperation({ summary: "The project's selections" })
  async list(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Query() q: PageQueryDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    return pageOf(`/api/v1/${owner}/${name}/selections`, q, (await this.dataSource.query(
      `SELECT s."number", s."name", s."description", (SELECT count(*)::int FROM "core"."selection_runs" sr WHERE sr."selection_id" = s."id") AS "runs"
         FROM "core"."selections" s WHERE s."project_id" = $1 ORDER BY s."number"`,
      [project.id],
    )) as unknown[]);
  }

  @Get(':number')
  @ApiOperation({ summary: 'A selection with its runs' })
  async get(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('number') number: string) {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    return this.view(project.id, Number(number), `${owner}/${name}`);
  }

  @Patch(':number')
  @ApiOperation({ summary: 'Add, remove or replace runs of a selection (member)' })
  async update(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('number') number: string, @Body() body: ChangeSelectionDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name, 'member');
    const id = await this.selectionId(project.id, Number(number));
    await this.dataSource.transaction((m) => this.change(m, id, project.id, body.operation, body.runs));
    await this.activity.record(req.identity, `selection.${body.operation}`, 'selection', id, project.id, { runs: body.runs });
    return this.view(project.id, Number(number), `${owner}/${name}`);
  }

  @Delete(':number')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a selection (its runs stay) (member)' })
  async delete(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('number') number: string): Promise<void> {
    const { project } = await this.projects.resolve(req.identity, owner, name, 'member');
    const id = await this.selectionId(project.id, Number(number));
    await this.dataSource.query(`DELETE FROM "core"."selections" WHERE "id" = $1`, [id]);
    await this.activity.record(req.identity, 'selection.deleted', 'selection', id, project.id);
  }

  private async selectionId(projectId: string, number: number): Promise<string> {
    const rows = (await this.dataSource.query(`SELECT "id" FROM "core"."selections" WHERE "project_id" = $1 AND "number" = $2`, [projectId, Number.isInteger(number) ? number : -1])) as Array<{ id: string }>;
    if (!rows.length) throw new ApiException(ApiExceptionCode.NotFound, `selection ${number} not found`);
    return rows[0].id;
  }

  /** Run numbers of the project only: unknown numbers are a 400 naming them. */
  private async change(m: { query(sql: string, params: unknown[]): Promise<unknown> }, id: string, projectId: string, op: 'add' | 'remove' | 'replace', numbers: number[]): Promise<void> {
    const found = (await m.query(`SELECT "uuid", "number" FROM "core"."runs" WHERE "project_id" = $1 AND "number" = ANY($2::int[])`, [projectId, numbers])) as Array<{ uuid: string; number: number }>;
    const missing = numbers.filter((n) => !found.some((f) => f.number === n));
    if (missing.length) throw new ApiException(ApiExceptionCode.BadRequest, `no run ${missing.join(', ')} in this project`, [{ field: 'runs', missing }]);
    const uuids = found.map((f) => f.uuid);
    if (op === 'replace') await m.query(`DELETE FROM "core"."selection_runs" WHERE "selection_id" = $1`, [id]);
    if (op === 'remove') {
      await m.query(`DELETE FROM "core"."selection_runs" WHERE "selection_id" = $1 AND "run_uuid" = ANY($2::uuid[])`, [id, uuids]);
    } else if (uuids.length) {
      await m.query(`INSERT INTO "core"."selection_runs" ("selection_id", "run_uuid") SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`, [id, uuids]);
    }
  }

  private async view(projectId: string, number: number, projectName: string) {
    const id = await this.selectionId(projectId, number);
    const [sel] = (await this.dataSource.query(`SELECT "number", "name", "description" FROM "core"."selections" WHERE "id" = $1`, [id])) as Array<{ number: number; name: string; description: string }>;
    const runs = await this.dataSource
      .getRepository(RunEntity)
      .createQueryBuilder('r')
      .where(`r.uuid IN (SELECT "run_uuid" FROM "core"."selection_runs" WHERE "selection_id" = :id)`, { id })
      .orderBy('r.number', 'ASC')
      .getMany();
    return { ...sel, runs: runs.map((r) => toRunView(r, projectName)) };
  }
}
