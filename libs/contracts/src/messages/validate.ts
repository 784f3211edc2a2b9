import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { MessageDefinition } from './message-kind';

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
  const value = plainToInstance(definition.payload, plain);
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
  return plainToInstance(definition.payload, plain);
}
