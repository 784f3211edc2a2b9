import { randomBytes } from 'node:crypto';

/** Service URLs used by integration tests; override with the same variables as the apps. */
export const TEST_AMQP_URL = process.env['MYELIN_TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
export const TEST_REDIS_URL = process.env['MYELIN_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const TEST_POSTGRES_URL = process.env['MYELIN_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A name no other test run uses: queue prefixes, database names, Redis key prefixes. */
export function uniqueName(label: string): string {
  return `${label}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** Poll until `check` returns a truthy value or the time is up. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = undefined; // the timeout reports the last check's error, not an older one
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
