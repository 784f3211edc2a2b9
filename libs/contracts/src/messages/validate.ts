import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { MessageDefinition } from './message-kind';
import { opaquePropertiesOf } from './validators';

export interface PayloadProblem {
  field: string;
  reason: string;
}

function flatten(errors: ValidationError[], prefix = ''): PayloadProblem[] {
  const out: PayloadProblem[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    for (const reason of Object.values(e.constraints ?? {})) out.push({ field, reason });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/**
 * Validate a plain payload against its message class: unknown fields are refused
 * (whitelist + forbidNonWhitelisted), as for HTTP bodies.
 */
export function validatePayload<T extends object>(
  definition: MessageDefinition<T>,
  plain: unknown,
): { ok: true; value: T } | { ok: false; problems: PayloadProblem[] } {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { ok: false, problems: [{ field: '', reason: 'payload must be an object' }] };
  }
  const { members, opaque } = splitOpaque(definition.payload, plain as Record<string, unknown>);
  const value = plainToInstance(definition.payload, members);
  // (The opaque members are the input's own: callers validate a copy made for the purpose.)
  Object.assign(value, opaque);
  const errors = validateSync(value, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) return { ok: false, problems: flatten(errors) };
  return { ok: true, value };
}

export function describeProblems(problems: PayloadProblem[]): string {
  return problems.map((p) => (p.field ? `${p.field}: ${p.reason}` : p.reason)).join('; ');
}

/**
 * The payload as its message class, without validating it: for a copy of a payload that was
 * validated already in this process (the in-process bus checks every message once, on the way out).
 */
export function instantiatePayload<T extends object>(definition: MessageDefinition<T>, plain: object): T {
  const { members, opaque } = splitOpaque(definition.payload, plain as Record<string, unknown>);
  const value = plainToInstance(definition.payload, members);
  // Each delivery gets its own copy (a handler of one service never sees another's changes).
  for (const [key, member] of Object.entries(opaque)) (value as Record<string, unknown>)[key] = structuredClone(member);
  return value;
}

/** The payload without its opaque members (see opaquePropertiesOf), and those members. */
function splitOpaque(type: object, plain: Record<string, unknown>): { members: Record<string, unknown>; opaque: Record<string, unknown> } {
  const names = opaquePropertiesOf(type);
  const opaque: Record<string, unknown> = {};
  if (!names) return { members: plain, opaque };
  let members = plain;
  for (const name of names) {
    if (!Object.prototype.hasOwnProperty.call(plain, name)) continue;
    if (members === plain) members = { ...plain };
    opaque[name] = plain[name];
    delete members[name];
  }
  return { members, opaque };
}
