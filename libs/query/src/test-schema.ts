/**
 * The schema the tests compile against: the README's default description of the runs listing,
 * with `"q"` as the schema so the integration test can create it.
 */
import { RUN_STATUSES } from '@myelin/contracts';
import type { FieldSchema } from './resolver';

export function runsSchema(schema = 'q'): FieldSchema {
  return {
    columns: {
      id: { sql: 'r."number"', type: 'number', nullable: false },
      uuid: { sql: 'r."uuid"', type: 'text', nullable: false },
      name: { sql: 'r."name"', type: 'text' },
      status: { sql: 'r."status"', type: 'text', nullable: false, values: RUN_STATUSES },
      kind: { sql: 'r."kind"', type: 'text', nullable: false },
      created_at: { sql: 'r."created_at"', type: 'timestamp', nullable: false },
      started_at: { sql: 'r."started_at"', type: 'timestamp' },
      finished_at: { sql: 'r."finished_at"', type: 'timestamp' },
      bookmarked: { sql: 'r."bookmarked"', type: 'boolean', nullable: false },
    },
    tags: 'r."tags"',
    params: 'r."params" -> {name}',
    metrics: `(SELECT s."{agg}" FROM "${schema}"."metric_summaries" s WHERE s."run_uuid" = r."uuid" AND s."name" = {name})`,
  };
}
