import { ForbiddenException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { RunAccess, TokenVerify } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { Identity, TokenVerifier } from '@myelin/runtime';
import { TRACKING_ENV } from '../tokens';
import { TrackingEnv } from '../config/env';

/**
 * Tracking does not own accounts: it asks the API (a bus request) who a token is and what it may
 * do with a run, and caches the answer briefly so a training loop's requests cost no round trip.
 */
@Injectable()
export class BusTokenVerifier implements TokenVerifier {
  private readonly cache = new Map<string, { reply: TokenVerify.Reply; until: number }>();

  constructor(
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(TRACKING_ENV) private readonly env: TrackingEnv,
  ) {}

  async verify(token: string): Promise<Identity | null> {
    const reply = await this.ask(token);
    if (!reply.valid || !reply.userId || !reply.username) return null;
    return {
      userId: reply.userId,
      username: reply.username,
      isSuperuser: reply.isSuperuser ?? false,
      ...(reply.tokenRunUuid ? { runUuid: reply.tokenRunUuid } : {}),
    };
  }

  /** 404 when the caller may not see the run (no existence leak), 403 when it may only read. */
  async requireRunAccess(token: string, runUuid: string, want: 'read' | 'write'): Promise<void> {
    const reply = await this.ask(token, runUuid);
    const access: RunAccess = reply.access ?? 'none';
    if (access === 'none') throw new NotFoundException(`run ${runUuid} not found`);
    if (want === 'write' && access !== 'write') throw new ForbiddenException(`you may not write to run ${runUuid}`);
  }

  private async ask(token: string, runUuid?: string): Promise<TokenVerify.Reply> {
    const key = `${token}\u0000${runUuid ?? ''}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.reply;
    const reply = await this.bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, {
      token,
      ...(runUuid ? { runUuid } : {}),
    } satisfies TokenVerify.Payload);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { reply, until: Date.now() + this.env.MYELIN_AUTH_CACHE_SECONDS * 1000 });
    return reply;
  }
}
