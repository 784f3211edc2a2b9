import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import type { MessageBus } from '@myelin/bus';
import { ReadinessCheck } from './health.controller';

export function databaseCheck(dataSource: DataSource): ReadinessCheck {
  return async () => {
    try {
      await dataSource.query('SELECT 1');
      return { name: 'database', ok: true };
    } catch (e) {
      return { name: 'database', ok: false, detail: String(e) };
    }
  };
}

export function busCheck(bus: MessageBus): ReadinessCheck {
  return async () => {
    const h = bus.health();
    return { name: 'bus', ok: h.connected, detail: h.detail };
  };
}

/** A Redis server answers PING (one short-lived connection per check). */
export function redisCheck(url: string): ReadinessCheck {
  return async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false });
    try {
      await client.connect();
      const pong = await client.ping();
      return { name: 'redis', ok: pong === 'PONG' };
    } catch (e) {
      return { name: 'redis', ok: false, detail: String(e) };
    } finally {
      client.disconnect();
    }
  };
}

/** The readiness checks every service runs: its database, the bus, and Redis when configured. */
export function standardChecks(dataSource: DataSource, bus: MessageBus, redisUrl?: string): ReadinessCheck[] {
  return [databaseCheck(dataSource), busCheck(bus), ...(redisUrl ? [redisCheck(redisUrl)] : [])];
}
