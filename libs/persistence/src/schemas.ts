import { outboxEntityFor } from './outbox/outbox.entity';
import { UserEntity } from './core/entities/user.entity';
import { TokenEntity } from './core/entities/token.entity';
import { ProjectEntity } from './core/entities/project.entity';
import { RunEntity } from './core/entities/run.entity';
import { RunConditionEntity } from './core/entities/run-condition.entity';
import { CreateAccounts1764230400000 } from './core/migrations/1764230400000-CreateAccounts';
import { CreateProjectsAndRuns1764230400001 } from './core/migrations/1764230400001-CreateProjectsAndRuns';
import { CreateCoreOutbox1764230400002 } from './core/migrations/1764230400002-CreateCoreOutbox';
import { AddOrganizationsTeamsAndGrants1764230400003 } from './core/migrations/1764230400003-AddOrganizationsTeamsAndGrants';
import { AddProjectAndRunLifecycle1764230400004 } from './core/migrations/1764230400004-AddProjectAndRunLifecycle';
import {
  ActivityEntity,
  OrganizationEntity,
  OrgMemberEntity,
  ProjectGrantEntity,
  TeamEntity,
  TeamMemberEntity,
} from './core/entities/organization.entity';
import { ExecutionEntity } from './scheduler/entities/execution.entity';
import { CreateExecutions1764230500000 } from './scheduler/migrations/1764230500000-CreateExecutions';
import { CreateTrackingTables1764230600000 } from './tracking/migrations/1764230600000-CreateTrackingTables';
import { AddMetricSummaries1764230600001 } from './tracking/migrations/1764230600001-AddMetricSummaries';
import { AddRunFacts1764230600002 } from './tracking/migrations/1764230600002-AddRunFacts';
import { AddPendingSummaries1764230600003 } from './tracking/migrations/1764230600003-AddPendingSummaries';
import { DropMetricNameForeignKeys1764230600004 } from './tracking/migrations/1764230600004-DropMetricNameForeignKeys';
import { AddMetricRollups1764230600005 } from './tracking/migrations/1764230600005-AddMetricRollups';
import { AddRunMetricsAndSearches1764230400005 } from './core/migrations/1764230400005-AddRunMetricsAndSearches';
import { AddSelections1764230400006 } from './core/migrations/1764230400006-AddSelections';
import { AddTrialKeys1764230400007 } from './core/migrations/1764230400007-AddTrialKeys';
import { AddExternalRuns1764230400010 } from './core/migrations/1764230400010-AddExternalRuns';
import { IndexLiveRunTokens1764230400011 } from './core/migrations/1764230400011-IndexLiveRunTokens';
import { CreateSearches1764230700000 } from './optimizer/migrations/1764230700000-CreateSearches';

/**
 * What each service owns: its schema, entities and migrations, listed explicitly (globs break
 * under bundling). A service opens only its own schema.
 */
export const CORE_SCHEMA = {
  schema: 'core',
  entities: [
    UserEntity,
    TokenEntity,
    ProjectEntity,
    RunEntity,
    RunConditionEntity,
    OrganizationEntity,
    OrgMemberEntity,
    TeamEntity,
    TeamMemberEntity,
    ProjectGrantEntity,
    ActivityEntity,
    outboxEntityFor('core'),
  ],
  migrations: [
    CreateAccounts1764230400000,
    CreateProjectsAndRuns1764230400001,
    CreateCoreOutbox1764230400002,
    AddOrganizationsTeamsAndGrants1764230400003,
    AddProjectAndRunLifecycle1764230400004,
    AddRunMetricsAndSearches1764230400005,
    AddSelections1764230400006,
    AddTrialKeys1764230400007,
    AddExternalRuns1764230400010,
    IndexLiveRunTokens1764230400011,
  ],
};

export const SCHEDULER_SCHEMA = {
  schema: 'scheduler',
  entities: [ExecutionEntity, outboxEntityFor('scheduler')],
  migrations: [CreateExecutions1764230500000],
};

export const TRACKING_SCHEMA = {
  schema: 'tracking',
  entities: [outboxEntityFor('tracking')],
  migrations: [CreateTrackingTables1764230600000, AddMetricSummaries1764230600001, AddRunFacts1764230600002, AddPendingSummaries1764230600003, DropMetricNameForeignKeys1764230600004, AddMetricRollups1764230600005],
};

export const OPTIMIZER_SCHEMA = {
  schema: 'optimizer',
  entities: [outboxEntityFor('optimizer')],
  migrations: [CreateSearches1764230700000],
};

export type ServiceSchema = typeof CORE_SCHEMA | typeof SCHEDULER_SCHEMA | typeof TRACKING_SCHEMA;

// Queue and admission (quotas, fencing tokens): appended so the lists above stay as they are.
import { AddAdmissionAndFencing1764230500001 } from './scheduler/migrations/1764230500001-AddAdmissionAndFencing';
SCHEDULER_SCHEMA.migrations.push(AddAdmissionAndFencing1764230500001);
import { AddRetriesAndTimeouts1764230500002 } from './scheduler/migrations/1764230500002-AddRetriesAndTimeouts';
SCHEDULER_SCHEMA.migrations.push(AddRetriesAndTimeouts1764230500002);
import { AddHeartbeatsAndWorkdirCleanup1764230500003 } from './scheduler/migrations/1764230500003-AddHeartbeatsAndWorkdirCleanup';
SCHEDULER_SCHEMA.migrations.push(AddHeartbeatsAndWorkdirCleanup1764230500003);
import { AddExecutionDevices1764230500004 } from './scheduler/migrations/1764230500004-AddExecutionDevices';
SCHEDULER_SCHEMA.migrations.push(AddExecutionDevices1764230500004);
import { CreateBuilds1764230500005 } from './scheduler/migrations/1764230500005-CreateBuilds';
SCHEDULER_SCHEMA.migrations.push(CreateBuilds1764230500005);
import { AddExecutionCodeOf1764230500006 } from './scheduler/migrations/1764230500006-AddExecutionCodeOf';
SCHEDULER_SCHEMA.migrations.push(AddExecutionCodeOf1764230500006);
