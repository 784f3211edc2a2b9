import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from './public.decorator';

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
export type ReadinessCheck = () => Promise<{ name: string; ok: boolean; detail?: string }>;

/** `/healthz`: the process answers. `/readyz`: its database and bus work, so traffic can come. */
@ApiTags('health')
@Controller()
export class HealthController {
  constructor(@Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[]) {}

  @Public()
  @ApiOperation({ summary: 'Liveness: the process answers (no token needed)' })
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @ApiOperation({ summary: 'Readiness: database, bus (and Redis when configured) reachable (no token needed)' })
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const report = await runReadiness(this.checks);
    res.status(report.ready ? 200 : 503).json(report);
  }
}

export async function runReadiness(checks: ReadinessCheck[]) {
  const results = await Promise.all(
    checks.map((c) => c().catch((e: unknown) => ({ name: 'check', ok: false, detail: String(e) }))),
  );
  const out: Record<string, { ok: boolean; detail?: string }> = {};
  for (const r of results) out[r.name] = { ok: r.ok, ...(r.detail ? { detail: r.detail } : {}) };
  return { ready: results.every((r) => r.ok), checks: out };
}
