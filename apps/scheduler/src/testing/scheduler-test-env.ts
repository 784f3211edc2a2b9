/**
 * The environment of a scheduler started alone in an integration test: its own database and runs
 * directory, passes every 50 ms, no bundled tracking client on the jobs' PYTHONPATH, quiet logs,
 * no HTTP port. `extra` sets what the test is about.
 */
export function schedulerTestEnv(databaseUrl: string, runsDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MYELIN_DATABASE_URL: databaseUrl,
    MYELIN_PORT: '0',
    MYELIN_LOG_LEVEL: 'error',
    MYELIN_RUNS_DIR: runsDir,
    MYELIN_SCHEDULER_TICK_MS: '50',
    MYELIN_JOB_PYTHONPATH: '',
    ...extra,
  };
}
