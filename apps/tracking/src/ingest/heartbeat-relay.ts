import { Inject, Injectable } from '@nestjs/common';
import { RunHeartbeat } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';

/** At most one heartbeat event per run in this period, however often its clients call. */
export const HEARTBEAT_COALESCE_MS = 5000;
/** Runs remembered before the memory of old ones is pruned. */
const PRUNE_ABOVE = 10_000;

/**
 * Relays job heartbeats to the scheduler (RunHeartbeat), coalesced: a run whose heartbeat was
 * relayed less than HEARTBEAT_COALESCE_MS ago is not relayed again. Nothing is stored here: a
 * heartbeat is only worth something to the scheduler, which writes it with its supervision pass.
 */
@Injectable()
export class HeartbeatRelay {
  private readonly lastRelayed = new Map<string, number>();

  constructor(@Inject(MESSAGE_BUS) private readonly bus: MessageBus) {}

  /** True when this heartbeat was relayed, false when it was coalesced into an earlier one. */
  async beat(runUuid: string, now = Date.now()): Promise<boolean> {
    const last = this.lastRelayed.get(runUuid);
    if (last !== undefined && now - last < HEARTBEAT_COALESCE_MS) return false;
    this.lastRelayed.set(runUuid, now);
    if (this.lastRelayed.size > PRUNE_ABOVE) {
      for (const [uuid, at] of this.lastRelayed) if (now - at >= HEARTBEAT_COALESCE_MS) this.lastRelayed.delete(uuid);
    }
    try {
      await this.bus.emit(RunHeartbeat.PATTERN, { runUuid, at: new Date(now).toISOString() } satisfies RunHeartbeat.Payload);
    } catch (error) {
      this.lastRelayed.delete(runUuid); // not relayed: the next heartbeat tries again
      throw error;
    }
    return true;
  }
}
