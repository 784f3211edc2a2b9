import { BadRequestException, Body, Controller, Get, HttpCode, HttpException, HttpStatus, Inject, Param, ParseUUIDPipe, Post, Put, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RunStatusReport } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { TrackingRepository } from '@myelin/persistence';
import { AuthenticatedRequest, extractToken } from '@myelin/runtime';
import { BusTokenVerifier } from '../auth/bus-token-verifier';
import { TrackingEnv } from '../config/env';
import { TRACKING_ENV } from '../tokens';
import { CodeRefDto, DataRefsDto, EnvironmentDto, LogsBatchDto, MetricsBatchDto, ParamsDto, StatusReportDto, TagsDto } from './dto';
import { BatchTooLargeError, IngestBodyError, parseLogsBatch, parseMetricsBatch } from './ingest-body';
import { IngestService } from './ingest.service';
import { HeartbeatRelay } from './heartbeat-relay';

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof BatchTooLargeError) {
      throw new HttpException({ code: 'payload_too_large', message: e.message, details: { limit: e.limit, size: e.size } }, HttpStatus.PAYLOAD_TOO_LARGE);
    }
    if (e instanceof IngestBodyError) throw new BadRequestException({ code: 'bad_request', message: e.message, details: { field: e.field } });
    throw e;
  }
}

/**
 * What a training script reports while it runs (see docs/tracking-http-api.md). The run's own
 * token writes to its run only; a user token writes to runs of projects it is a member of.
 */
@ApiTags('tracking')
@ApiSecurity('token')
@Controller('api/v1/tracking/runs/:uuid')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    private readonly tracking: TrackingRepository,
    private readonly verifier: BusTokenVerifier,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(TRACKING_ENV) private readonly env: TrackingEnv,
    private readonly heartbeats: HeartbeatRelay,
  ) {}

  private async writer(req: AuthenticatedRequest, uuid: string): Promise<void> {
    await this.verifier.requireRunAccess(extractToken(req.headers.authorization) as string, uuid, 'write');
  }

  @Post('metrics')
  @HttpCode(200)
  @ApiOperation({ summary: 'Store a batch of metric points once per batchId (413 above the batch limit)' })
  @ApiBody({ type: MetricsBatchDto })
  async metrics(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: unknown) {
    await this.writer(req, uuid);
    const batch = parsed(() => parseMetricsBatch(body, this.env.MYELIN_TRACKING_MAX_BATCH_POINTS));
    const stored = await this.ingest.metrics(uuid, batch.batchId, batch.points);
    return { stored: stored ? batch.points.length : 0, duplicate: !stored };
  }

  @Post('logs')
  @HttpCode(200)
  @ApiOperation({ summary: 'Store a batch of log lines once per batchId' })
  @ApiBody({ type: LogsBatchDto })
  async logs(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: unknown) {
    await this.writer(req, uuid);
    const batch = parsed(() => parseLogsBatch(body, this.env.MYELIN_TRACKING_MAX_BATCH_POINTS));
    const stored = await this.ingest.logs(uuid, batch.batchId, batch.lines);
    return { stored: stored ? batch.lines.length : 0, duplicate: !stored };
  }

  @Post('params')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log params; write-once: another value for a logged key is a 409 naming both values' })
  async params(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: ParamsDto) {
    await this.writer(req, uuid);
    const keys = Object.keys(body.params);
    if (keys.length > 1000) throw new HttpException({ code: 'payload_too_large', message: `${keys.length} params exceed the limit of 1000 per request` }, 413);
    const bad = keys.find((k) => !k.length || k.length > 250);
    if (bad !== undefined) throw new BadRequestException({ code: 'bad_request', message: `params.${bad}: a param name has 1-250 characters`, details: { field: `params.${bad}` } });
    return { params: await this.ingest.params(uuid, body.params) };
  }

  @Post('tags')
  @HttpCode(200)
  @ApiOperation({ summary: "Add tags to the run (merged into the run's tags by the API)" })
  async tags(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: TagsDto) {
    await this.writer(req, uuid);
    await this.ingest.tags(uuid, body.tags);
    return { tags: body.tags };
  }

  @Post('status')
  @HttpCode(200)
  @ApiOperation({ summary: 'Report the status of a run tracked from outside the platform (409 for a run the scheduler runs)' })
  async status(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: StatusReportDto) {
    await this.writer(req, uuid);
    const reply = await this.bus.request<RunStatusReport.Reply>(RunStatusReport.PATTERN, {
      runUuid: uuid,
      status: body.status,
      ...(body.message ? { message: body.message } : {}),
      ...(body.traceback ? { traceback: body.traceback } : {}),
    } satisfies RunStatusReport.Payload);
    if (!reply.ok) throw new HttpException({ code: 'conflict', message: reply.error ?? 'status refused' }, HttpStatus.CONFLICT);
    // A run tracked from outside has no executor to close its logs: its final status does.
    if (body.status !== 'running') await this.ingest.endLogs(uuid);
    return { status: reply.status };
  }

  @Post('heartbeat')
  @HttpCode(200)
  @ApiOperation({ summary: 'The running job is alive: relayed to the scheduler (at most once per run every few seconds), which fails runs it cannot see and that stopped beating as zombies' })
  async heartbeat(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string) {
    await this.writer(req, uuid);
    const relayed = await this.heartbeats.beat(uuid);
    return { received: true, relayed };
  }

  @Put('code-ref')
  @ApiOperation({ summary: 'Record the git commit, branch, dirty flag and remote the run was started from' })
  async codeRef(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: CodeRefDto) {
    await this.writer(req, uuid);
    await this.tracking.setMetadata(uuid, 'code_ref', { ...body });
    return body;
  }

  @Put('environment')
  @ApiOperation({ summary: 'Record the host, platform, interpreter versions and packages of the run' })
  async environment(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: EnvironmentDto) {
    await this.writer(req, uuid);
    await this.tracking.setMetadata(uuid, 'environment', { ...body });
    return body;
  }

  @Post('data-refs')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record data the run read, by name and content hash' })
  async dataRefs(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Body() body: DataRefsDto) {
    await this.writer(req, uuid);
    const refs = await this.tracking.addDataRefs(
      uuid,
      body.refs.map((r) => ({ name: r.name, hash: r.hash, ...(r.path ? { path: r.path } : {}) })),
    );
    return { refs };
  }

  @Get('metadata')
  @ApiOperation({ summary: 'Params logged by the run, its code reference, environment and data references' })
  async metadata(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string) {
    await this.verifier.requireRunAccess(extractToken(req.headers.authorization) as string, uuid, 'read');
    return this.tracking.metadata(uuid);
  }
}
