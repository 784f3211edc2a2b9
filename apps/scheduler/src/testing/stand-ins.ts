import { LogLinesAppend, MetricsBatch, RunStatusChanged, RunTokenIssue } from '@myelin/contracts';
import type { InProcessBus, MessageHandler } from '@myelin/bus';

/**
 * The services a scheduler talks to, stood in for on the in-process bus in its integration tests:
 * the API records every status event and issues run tokens; tracking takes metric batches and log
 * lines. A test passes what it looks at (the status list, a log line handler).
 */
export async function standInApi(bus: InProcessBus, events: RunStatusChanged.Payload[]): Promise<void> {
  await bus.consume(
    'api',
    new Map<string, MessageHandler>([
      [RunStatusChanged.PATTERN, (async (e: RunStatusChanged.Payload) => void events.push(e)) as MessageHandler],
      [RunTokenIssue.PATTERN, (async () => ({ token: 'run-token-000001' })) as MessageHandler],
    ]),
  );
}

export async function standInTracking(bus: InProcessBus, onLines: (batch: LogLinesAppend.Payload) => void = () => undefined): Promise<void> {
  await bus.consume(
    'tracking',
    new Map<string, MessageHandler>([
      [MetricsBatch.PATTERN, (async () => undefined) as MessageHandler],
      [LogLinesAppend.PATTERN, (async (batch: LogLinesAppend.Payload) => onLines(batch)) as MessageHandler],
    ]),
  );
}
