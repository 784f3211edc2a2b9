import { MessageDefinition } from './message-kind';
import { PipelineOpCreate } from './pipelines/pipeline-op-create/pipeline-op-create.message';
import { PipelineStatusChanged } from './pipelines/pipeline-status-changed/pipeline-status-changed.message';
import { PipelineStop } from './pipelines/pipeline-stop/pipeline-stop.message';
import { PipelineRunCreate } from './pipelines/pipeline-run-create/pipeline-run-create.message';
import { ScheduleControl } from './pipelines/schedule-control/schedule-control.message';
import { TrialCreate } from './groups/trial-create/trial-create.message';
import { GroupStatusChanged } from './groups/group-status-changed/group-status-changed.message';
import { GroupStop } from './groups/group-stop/group-stop.message';
import { RunCreated } from './runs/run-created/run-created.message';
import { RunStart } from './runs/run-start/run-start.message';
import { RunStop } from './runs/run-stop/run-stop.message';
import { RunStopRequest } from './runs/run-stop-request/run-stop-request.message';
import { RunDeleted } from './runs/run-deleted/run-deleted.message';
import { RunStatusChanged } from './runs/run-status-changed/run-status-changed.message';
import { LogLinesAppend } from './tracking/log-lines/log-lines.message';
import { MetricsBatch } from './tracking/metrics-batch/metrics-batch.message';
import { MetricsSummarized } from './tracking/metrics-summarized/metrics-summarized.message';
import { TokenVerify } from './auth/token-verify/token-verify.message';
import { RunTokenIssue } from './auth/run-token-issue/run-token-issue.message';
import { RunFactsLogged } from './tracking/run-facts-logged/run-facts-logged.message';
import { RunOutputsRead } from './tracking/run-outputs-read/run-outputs-read.message';
import { RunStatusReport } from './runs/run-status-report/run-status-report.message';
import { RunHeartbeat } from './runs/run-heartbeat/run-heartbeat.message';

/** Every message the platform knows. The bus refuses (dead-letters) anything else. */
export const MESSAGES: readonly MessageDefinition[] = [
  RunCreated.definition,
  PipelineOpCreate.definition,
  PipelineStatusChanged.definition,
  PipelineStop.definition,
  PipelineRunCreate.definition,
  ScheduleControl.definition,
  RunStart.definition,
  RunStop.definition,
  RunStopRequest.definition,
  RunStatusChanged.definition,
  RunDeleted.definition,
  LogLinesAppend.definition,
  MetricsBatch.definition,
  MetricsSummarized.definition,
  TokenVerify.definition,
  RunTokenIssue.definition,
  TrialCreate.definition,
  GroupStatusChanged.definition,
  GroupStop.definition,
  RunFactsLogged.definition,
  RunOutputsRead.definition,
  RunStatusReport.definition,
  RunHeartbeat.definition,
];

const byPattern = new Map(MESSAGES.map((m) => [m.pattern, m]));
export function findMessage(pattern: string): MessageDefinition | undefined {
  return byPattern.get(pattern);
}

/** The union of run messages, so a handler switch is checked by the compiler. */
export type RunMessage =
  | { pattern: typeof RunCreated.PATTERN; payload: RunCreated.Payload }
  | { pattern: typeof RunStart.PATTERN; payload: RunStart.Payload }
  | { pattern: typeof RunStop.PATTERN; payload: RunStop.Payload }
  | { pattern: typeof RunStatusChanged.PATTERN; payload: RunStatusChanged.Payload }
  | { pattern: typeof RunDeleted.PATTERN; payload: RunDeleted.Payload };

export type TrackingMessage =
  | { pattern: typeof LogLinesAppend.PATTERN; payload: LogLinesAppend.Payload }
  | { pattern: typeof MetricsBatch.PATTERN; payload: MetricsBatch.Payload };
