import { outboxEntityFor } from '../outbox/outbox.entity';
import { CreatePipelines1764230800000 } from './migrations/1764230800000-CreatePipelines';
import { AddOpCache1764230800001 } from './migrations/1764230800001-AddOpCache';
import { AddSchedules1764230800002 } from './migrations/1764230800002-AddSchedules';
import { AddOpStates1764230800003 } from './migrations/1764230800003-AddOpStates';

/** The pipelines service's schema (see CORE_SCHEMA and the others in schemas.ts). */
export const PIPELINES_SCHEMA = {
  schema: 'pipelines',
  entities: [outboxEntityFor('pipelines')],
  migrations: [CreatePipelines1764230800000, AddOpCache1764230800001, AddSchedules1764230800002, AddOpStates1764230800003],
};
