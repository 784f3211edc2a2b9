import { Inject, Injectable } from '@nestjs/common';
import { TokenVerify } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { Identity, TokenVerifier } from '@myelin/runtime';

/** The scheduler does not own accounts: it asks the API who a token is (cached a few seconds). */
@Injectable()
export class SchedulerTokenVerifier implements TokenVerifier {
  private readonly cache = new Map<string, { identity: Identity | null; until: number }>();

  constructor(@Inject(MESSAGE_BUS) private readonly bus: MessageBus) {}

  async verify(token: string): Promise<Identity | null> {
    const hit = this.cache.get(token);
    if (hit && hit.until > Date.now()) return hit.identity;
    const reply = await this.bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token } satisfies TokenVerify.Payload, 5000);
    const identity =
      reply.valid && reply.userId && reply.username && !reply.tokenRunUuid
        ? { userId: reply.userId, username: reply.username, isSuperuser: reply.isSuperuser ?? false }
        : null;
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(token, { identity, until: Date.now() + 5000 });
    return identity;
  }
}
