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
}

/** `<owner>.<cmd|evt|req>.<entity>.<verb>.v<n>`: a published name never changes. */
export const PATTERN_FORMAT = /^([a-z]+)\.(cmd|evt|req)\.([a-z-]+)\.([a-z-]+)\.v(\d+)$/;

export function defineMessage<T extends object>(
  pattern: string,
  kind: MessageKind,
  payload: new () => T,
): MessageDefinition<T> {
  const m = PATTERN_FORMAT.exec(pattern);
  if (!m) throw new Error(`message pattern "${pattern}" does not follow <owner>.<cmd|evt|req>.<entity>.<verb>.v<n>`);
  const expected = kind === 'command' ? 'cmd' : kind === 'event' ? 'evt' : 'req';
  if (m[2] !== expected) throw new Error(`message pattern "${pattern}" is a ${kind} but is named "${m[2]}"`);
  return { pattern, kind, payload, owner: m[1] };
}
