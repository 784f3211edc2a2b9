import 'reflect-metadata';
/**
 * Test fixture (run from dist by the bus integration suite): consumes scheduler commands
 * and never finishes handling them, so the test can SIGKILL it mid-message.
 */
import { RunStart } from '@myelin/contracts';
import { AmqpBus } from '../amqp-bus';
import { MessageHandler } from '../message-bus';

const [url, prefix] = process.argv.slice(2);
const bus = new AmqpBus({ url, prefix });
const handler = ((p: RunStart.Payload) => {
  process.stdout.write(`received ${p.number}\n`);
  return new Promise(() => undefined);
}) as MessageHandler;
void bus.consume('scheduler', new Map([[RunStart.PATTERN, handler]])).then(() => process.stdout.write('consuming\n'));
