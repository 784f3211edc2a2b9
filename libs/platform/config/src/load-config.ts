import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidationError } from 'class-validator';

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
  // The variables the class declares (with or without a default); others belong to other apps.
  const known = new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(cls, '', true, false)
      .map((m) => m.propertyName),
  );
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && known.has(k)) plain[k] = v;
  const config = plainToInstance(cls, plain, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: true, forbidUnknownValues: false });
  if (errors.length) throw new ConfigError(describe(errors));
  return config;
}
