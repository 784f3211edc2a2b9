import amqplib from 'amqplib';
import { TEST_AMQP_URL } from './test-ids';

/** Every service that may consume on a bus prefix (apps/*). */
const SERVICES = ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'];

/**
 * Delete a bus prefix's queues and exchanges from the broker (names as in
 * libs/platform/bus/amqp-bus.ts). They are durable, so they outlive the services a test started,
 * and a test's prefix is never used again: without this every run leaves them on the broker.
 * Each deletion gets its own channel, because a refused one closes its channel.
 */
export async function removeBusPrefix(prefix: string, url = TEST_AMQP_URL): Promise<void> {
  const connection = await amqplib.connect(url);
  connection.on('error', () => undefined); // a channel error is reported below, per deletion
  const names = [...SERVICES.flatMap((s) => [{ queue: `${prefix}.${s}` }, { queue: `${prefix}.${s}.dlq` }]), { exchange: `${prefix}.bus` }, { exchange: `${prefix}.dlx` }];
  try {
    for (const name of names) {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      try {
        if ('queue' in name) await channel.deleteQueue(name.queue);
        else await channel.deleteExchange(name.exchange);
        await channel.close();
      } catch {
        // already gone (or never declared): nothing to remove
      }
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}
