import { Controller, Get, Inject, Param, ParseUUIDPipe, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { TrackingRepository } from '@myelin/persistence';
import { AuthenticatedRequest, extractToken } from '@myelin/runtime';
import { BusTokenVerifier } from '../auth/bus-token-verifier';
import { TRACKING_ENV } from '../tokens';
import { TrackingEnv } from '../config/env';
import { LogsQueryDto, MetricsQueryDto } from './dto';

/** JSON has no NaN or infinities: they travel as the strings "NaN", "Infinity", "-Infinity". */
function jsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

@Controller('api/v1/tracking/runs/:uuid')
export class ReadsController {
  constructor(
    private readonly tracking: TrackingRepository,
    private readonly verifier: BusTokenVerifier,
    @Inject(TRACKING_ENV) private readonly env: TrackingEnv,
  ) {}

  private async authorize(req: AuthenticatedRequest, uuid: string): Promise<void> {
    await this.verifier.requireRunAccess(extractToken(req.headers.authorization) as string, uuid, 'read');
  }

  @Get('metrics')
  async metrics(@Req() req: AuthenticatedRequest, @Param('uuid', ParseUUIDPipe) uuid: string, @Query() q: MetricsQueryDto) {
    await this.authorize(req, uuid);
    const series = await this.tracking.metrics(uuid, q.names);
    const out: Record<string, Array<{ step: number | null; value: number | string; timestamp: string }>> = {};
    for (const [name, points] of Object.entries(series)) {
      out[name] = points.map((p) => ({ step: p.step, value: jsonNumber(p.value), timestamp: p.timestamp }));
    }
    return out;
  }

  @Get('logs')
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
   * after the run, and from any tracking replica (it reads the database).
   */
  @Get('logs/stream')
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
        idle += this.env.MYELIN_LOG_FOLLOW_POLL_MS;
        if (idle >= 15_000) {
          res.write(': keep-alive\n\n');
          idle = 0;
        }
        await new Promise((r) => setTimeout(r, this.env.MYELIN_LOG_FOLLOW_POLL_MS));
      }
    }
    res.end();
  }
}
