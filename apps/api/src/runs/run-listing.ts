import { RUN_KINDS, RUN_STATUSES } from '@myelin/contracts';
import { createFieldResolver, FieldResolver } from '@myelin/query';

/**
 * What `?query=` and `?sort=` fields mean on the API's tables (libs/query knows no table).
 * Metrics read the API's copy of tracking's summaries (`core.run_metrics`): `metrics.loss` is the
 * last value, `metrics.loss.min` / `.max` the extremes.
 */
export const RUN_FIELDS: FieldResolver = createFieldResolver({
  columns: {
    uuid: { sql: 'r."uuid"::text', type: 'text', nullable: false },
    id: { sql: 'r."number"', type: 'number', nullable: false },
    number: { sql: 'r."number"', type: 'number', nullable: false },
    name: { sql: 'r."name"', type: 'text' },
    description: { sql: 'r."description"', type: 'text', nullable: false },
    kind: { sql: 'r."kind"', type: 'text', nullable: false, values: RUN_KINDS },
    status: { sql: 'r."status"', type: 'text', nullable: false, values: RUN_STATUSES },
    created_at: { sql: 'r."created_at"', type: 'timestamp', nullable: false },
    updated_at: { sql: 'r."updated_at"', type: 'timestamp', nullable: false },
    started_at: { sql: 'r."started_at"', type: 'timestamp' },
    finished_at: { sql: 'r."finished_at"', type: 'timestamp' },
    'user.username': {
      sql: '(SELECT u."username" FROM "core"."users" u WHERE u."id" = r."created_by")',
      type: 'text',
      sortable: false,
    },
    group: { sql: 'r."parent_uuid"::text', type: 'text' },
    independent: { sql: '(r."parent_uuid" IS NULL)', type: 'boolean', nullable: false },
  },
  tags: 'r."tags"',
  params: 'r."params" -> {name}',
  metrics: '(SELECT rm."{agg}" FROM "core"."run_metrics" rm WHERE rm."run_uuid" = r."uuid" AND rm."name" = {name})',
});
