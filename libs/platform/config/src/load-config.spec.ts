import { IsInt, Min } from 'class-validator';
import { BaseServiceEnv } from './base-env';
import { ConfigError, loadConfig } from './load-config';

class TestEnv extends BaseServiceEnv {
  @IsInt() @Min(1) MYELIN_MAX_PARALLEL: number = 4;
}

describe('loadConfig', () => {
  it('applies defaults and converts types', () => {
    const c = loadConfig(TestEnv, { MYELIN_PORT: '9000', OTHER: 'x' });
    expect(c.MYELIN_PORT).toBe(9000);
    expect(c.MYELIN_DATABASE_URL).toBe('pglite://memory');
    expect(c.MYELIN_MAX_PARALLEL).toBe(4);
  });

  it('lists every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig(TestEnv, {
        MYELIN_PORT: 'eighty',
        MYELIN_DATABASE_URL: 'mysql://x',
        MYELIN_AMQP_URL: 'kafka://y',
        MYELIN_MAX_PARALLEL: '0',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const v of ['MYELIN_PORT', 'MYELIN_DATABASE_URL', 'MYELIN_AMQP_URL', 'MYELIN_MAX_PARALLEL']) {
      expect(problems).toContain(v);
    }
  });

  it('ignores variables of other apps', () => {
    expect(() => loadConfig(TestEnv, { MYELIN_SOMETHING_ELSE: 'whatever' })).not.toThrow();
  });
});

describe('loadConfig optional variables', () => {
  it('reads optional variables that have no default', () => {
    class WithOptional extends BaseServiceEnv {}
    expect(loadConfig(WithOptional, { MYELIN_REDIS_URL: 'redis://x:6379' }).MYELIN_REDIS_URL).toBe('redis://x:6379');
  });
});
