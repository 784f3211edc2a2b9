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
