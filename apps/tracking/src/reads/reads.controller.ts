import { Controller, Get, Inject, Param, ParseUUIDPipe, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { TrackingRepository } from '@myelin/persistence';
import { AuthenticatedRequest, extractToken } from '@myelin/runtime';
import { BusTokenVerifier } from '../auth/bus-token-verifier';
import { TRACKING_ENV } from '../tokens';
import { TrackingEnv } from '../config/env';
import { LogsQueryDto, MetricsQueryDto, MultiRunMetricsQueryDto } from './dto';
import { LOG_NOTIFIER } from '../tokens';
import type { LogNotifier } from '../logs/log-notifier';
import type { MetricPoint } from '@myelin/persistence';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';

/** JSON has no NaN or infinities: they travel as the strings "NaN", "Infinity", "-Infinity". */
function jsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function seriesView(series: Record<string, MetricPoint[]>) {
  const out: Record<string, Array<{ step: number | null; value: number | string; timestamp: string }>> = {};
  for (const [name, points] of Object.entries(series)) {
    out[name] = points.map((p) => ({ step: p.step, value: jsonNumber(p.value), timestamp: p.timestamp }));
  }
  return out;
}

function seriesOptions(q: MetricsQueryDto) {
  return {
    ...(q.names ? { names: q.names } : {}),
    ...(q.from_step !== undefined ? { fromStep: q.from_step } : {}),
    ...(q.to_step !== undefined ? { toStep: q.to_step } : {}),
    ...(q.points !== undefined ? { points: q.points } : {}),
  };
}

/** Several runs' series at once, for comparison charts. */
@ApiTags('tracking')
@ApiSecurity('token')
@Controller('api/v1/tracking')
export class CompareController {
  constructor(
    private readonly tracking: TrackingRepository,
    private readonly verifier: BusTokenVerifier,
  ) {}

  @Get('metrics')
  @ApiOperation({ summary: "Several runs' metric series at once (`runs=<uuid>,<uuid>`), downsampled with `points`" })
  async metrics(@Req() req: AuthenticatedRequest, @Query() q: MultiRunMetricsQueryDto) {
    const token = extractToken(req.headers.authorization) as string;
    const out: Record<string, ReturnType<typeof seriesView>> = {};
    for (const uuid of q.runs) {
      await this.verifier.requireRunAccess(token, uuid, 'read');
      out[uuid] = seriesView(await this.tracking.series(uuid, seriesOptions(q)));
    }
    return out;
  }
}

@ApiTags('tracking')
@ApiSecurity('token')
@Controller('api/v1/tracking/runs/:uuid')
export class ReadsController {
  constructor(
    private readonly tracking: TrackingRepository,
    private readonly verifier: BusTokenVerifier,
    @Inject(TRACKING_ENV) private readonly env: TrackingEnv,
    @Inject(LOG_NOTIFIER) private readonly notifier: LogNotifier,
  ) {}

  private async authorize(req: AuthenticatedRequest, uuid: string): Promise<void> {
    await this.verifier.requireRunAccess(extractToken(req.headers.authorization) as string, uuid, 'read');
  }

  @Get('metrics')
  @ApiOperation({ summary: "The run's metric series by name, within a step range, downsampled to `points` when longer" })
  async metrics(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: MetricsQueryDto) {
    await this.authorize(req, uuid);
    return seriesView(await this.tracking.series(uuid, seriesOptions(q)));
  }

  @Get('metrics/summaries')
  @ApiOperation({ summary: 'Per metric: last value and step, min, max, count' })
  async summaries(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string) {
    await this.authorize(req, uuid);
    return (await this.tracking.summaries(uuid)).map((s) => ({
      ...s,
      last: s.last === null ? null : jsonNumber(s.last),
      min: s.min === null ? null : jsonNumber(s.min),
      max: s.max === null ? null : jsonNumber(s.max),
    }));
  }

  @Get('logs')
  @ApiOperation({ summary: "A page of the run's log lines after `after`" })
  async logs(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: LogsQueryDto) {
    await this.authorize(req, uuid);
    const results = await this.tracking.logs(uuid, { afterId: q.after, limit: q.limit });
    const ended = await this.tracking.logsEnded(uuid);
    return {
      results: results.map((l) => ({ id: l.id, at: l.at.toISOString(), stream: l.stream, line: l.line })),
      ended: ended && results.length < q.limit,
    };
  }

  /**
   * Server-Sent Events: every stored line after `after`, then new ones as they arrive; the
   * stream ends with an `end` event once the run's last batch is in. Works the same during and
   * after the run, and from any tracking replica: lines are read from the database, and the
   * follower sleeps until a notification (in-process, or Redis pub/sub between replicas) says
   * new lines were stored, with a slow poll as a safety net.
   */
  @Get('logs/stream')
  @ApiOperation({ summary: 'Server-Sent Events: stored lines, then new ones live, then `event: end`' })
  async stream(
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
    @Param('uuid', ParseUUIDPipe) uuid: string,
    @Query() q: LogsQueryDto,
  ): Promise<void> {
    await this.authorize(req, uuid);
    res.status(200).set({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    let after = Number(req.headers['last-event-id'] ?? q.after) || 0;
    let open = true;
    req.on('close', () => (open = false));
    let idle = 0;
    while (open) {
      const ended = await this.tracking.logsEnded(uuid);
      const lines = await this.tracking.logs(uuid, { afterId: after, limit: 1000 });
      for (const l of lines) {
        res.write(`id: ${l.id}\ndata: ${JSON.stringify({ id: l.id, at: l.at.toISOString(), stream: l.stream, line: l.line })}\n\n`);
        after = l.id;
      }
      if (ended && lines.length < 1000) {
        res.write('event: end\ndata: {}\n\n');
        break;
      }
      if (!lines.length) {
        const started = Date.now();
        await this.notifier.wait(uuid, this.env.MYELIN_LOG_FOLLOW_POLL_MS);
        idle += Date.now() - started;
        if (idle >= 15_000) {
          res.write(': keep-alive\n\n');
          idle = 0;
        }
      }
    }
    res.end();
  }
}
