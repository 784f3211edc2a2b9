/**
 * Commands have exactly one consumer (the service that owns the pattern's prefix);
 * events are facts that any number of services may subscribe to.
 */
export type MessageKind = 'command' | 'event' | 'request';

export interface MessageDefinition<TPayload extends object = object> {
  readonly pattern: string;
  readonly kind: MessageKind;
  /** The class-validator class of the payload; every inbound message is validated against it. */
  readonly payload: new () => TPayload;
  /** Service that owns (consumes, for commands and requests; emits, for events) the message. */
  readonly owner: string;
  /**
   * Events only: the topic of one event (dot-separated words), for subscribers that follow only
   * some of them. The bus routes by it, so a subscriber that declared topics never receives the
   * others (on RabbitMQ they are not even delivered); one that declared none receives every event.
   */
  // Method syntax: the registry holds every definition as MessageDefinition<object> (parameters compare bivariantly).
  topic?(payload: TPayload): string;
}

/** `<owner>.<cmd|evt|req>.<entity>.<verb>.v<n>`: a published name never changes. */
export const PATTERN_FORMAT = /^([a-z]+)\.(cmd|evt|req)\.([a-z-]+)\.([a-z-]+)\.v(\d+)$/;

export function defineMessage<T extends object>(
  pattern: string,
  kind: MessageKind,
  payload: new () => T,
  options: { topic?: (payload: T) => string } = {},
): MessageDefinition<T> {
  const m = PATTERN_FORMAT.exec(pattern);
  if (!m) throw new Error(`message pattern "${pattern}" does not follow <owner>.<cmd|evt|req>.<entity>.<verb>.v<n>`);
  const expected = kind === 'command' ? 'cmd' : kind === 'event' ? 'evt' : 'req';
  if (m[2] !== expected) throw new Error(`message pattern "${pattern}" is a ${kind} but is named "${m[2]}"`);
  if (options.topic && kind !== 'event') throw new Error(`message pattern "${pattern}": only events have topics`);
  return { pattern, kind, payload, owner: m[1], ...(options.topic ? { topic: options.topic } : {}) };
}
