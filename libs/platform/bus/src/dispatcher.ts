import { describeProblems, findMessage, instantiatePayload, validatePayload, MessageKind } from '@myelin/contracts';
import { InvalidOutboundMessageError, MessageHandler, MessageMeta } from './message-bus';

export type DispatchOutcome =
  | { kind: 'handled'; reply: unknown }
  | { kind: 'dead'; reason: string } // poison: unknown pattern or invalid payload; never retried
  | { kind: 'failed'; error: Error }; // handler threw: retried with backoff, then dead-lettered

export interface DeadLetter {
  service: string;
  pattern: string;
  payload: unknown;
  reason: string;
  at: string;
}

/** Backoff before the n-th retry of a failed handler (100 ms, 200 ms, ... capped at 5 s). */
export function retryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 5000);
}

export const DEFAULT_MAX_ATTEMPTS = 5;

/** Check an outbound message against its contract before it leaves the process; returns the JSON copy it checked. */
export function checkOutbound(pattern: string, payload: object, expected: MessageKind): object {
  const def = findMessage(pattern);
  if (!def) throw new InvalidOutboundMessageError(pattern, 'unknown message pattern');
  if (def.kind !== expected) {
    throw new InvalidOutboundMessageError(pattern, `it is a ${def.kind}, not a ${expected}`);
  }
  const copy = JSON.parse(JSON.stringify(payload)) as object;
  const result = validatePayload(def, copy);
  if (!result.ok) throw new InvalidOutboundMessageError(pattern, describeProblems(result.problems));
  return copy;
}

/** Validate an inbound message and run its handler; shared by every bus implementation. */
export async function dispatch(
  handlers: ReadonlyMap<string, MessageHandler>,
  meta: MessageMeta,
  plain: unknown,
  /** A copy of a payload this process validated on the way out (the in-process bus): not validated twice. */
  checkedOutbound = false,
): Promise<DispatchOutcome> {
  const handler = handlers.get(meta.pattern);
  const def = findMessage(meta.pattern);
  if (!handler || !def) return { kind: 'dead', reason: `no handler for pattern ${meta.pattern}` };
  let value: object;
  if (checkedOutbound && typeof plain === 'object' && plain !== null) {
    value = instantiatePayload(def, plain);
  } else {
    const result = validatePayload(def, plain);
    if (!result.ok) return { kind: 'dead', reason: `invalid payload: ${describeProblems(result.problems)}` };
    value = result.value;
  }
  try {
    const reply = await (handler as (p: unknown, m: MessageMeta) => unknown)(value, meta);
    return { kind: 'handled', reply };
  } catch (error) {
    return { kind: 'failed', error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** The topic of an event whose contract defines one (see MessageDefinition.topic), else undefined. */
export function eventTopic(pattern: string, payload: object): string | undefined {
  return findMessage(pattern)?.topic?.(payload);
}

/** Whether a subscriber receives an event of `topic` (one that declared no topics receives them all). */
export function follows(handler: MessageHandler | undefined, topic: string | undefined): boolean {
  return handler !== undefined && (topic === undefined || handler.topics === undefined || handler.topics.includes(topic));
}

/** The service that consumes commands and requests of a pattern: its owner prefix. */
export function ownerOf(pattern: string): string {
  return pattern.split('.')[0];
}
