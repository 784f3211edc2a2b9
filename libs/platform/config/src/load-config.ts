import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((reason) => `${e.property}: ${reason} (got ${JSON.stringify(e.value)})`),
  );
}

/**
 * Build and validate an app's config class from environment-like variables.
 * Every problem is reported at once so an operator fixes them in one go.
 * `source` is the only place `process.env` enters an app (passed by main.ts).
 */
export function loadConfig<T extends object>(cls: new () => T, source: Record<string, string | undefined>): T {
  const known = new Set(Object.keys(new cls()));
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) {
    if (v !== undefined && (known.has(k) || k.startsWith('MYELIN_'))) plain[k] = v;
  }
  // Only the class's own variables are checked: other MYELIN_* variables belong to other apps.
  for (const k of Object.keys(plain)) if (!known.has(k)) delete plain[k];
  const config = plainToInstance(cls, plain, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: true, forbidUnknownValues: false });
  if (errors.length) throw new ConfigError(describe(errors));
  return config;
}
