/**
 * @myelin/dag: the pipeline decision engine (pure TypeScript, no I/O). See README.md.
 */
export { DagValidationError, formatDagError } from './errors';
export type { DagError, DagErrorCode } from './errors';
export {
  analyzePipeline,
  buildPipelineGraph,
  DEFAULT_MAX_RETRY_DELAY,
  DEFAULT_RETRY_DELAY,
  PipelineGraph,
  pipelineGraphFromSpec,
  TRIGGER_POLICIES,
  validatePipeline,
} from './graph';
export type { BuildOptions, PipelineSettings } from './graph';
export { createPipelineEngine, PipelineEngine, restorePipelineEngine } from './engine';
export type { EngineOptions, EngineSnapshot, EngineSnapshotV1, EngineSnapshotV2, OpRow, OpSnapshot, PipelinePhase } from './engine';
export {
  canonicalJson,
  conditionHolds,
  describeCondition,
  describeTrigger,
  outputEquals,
  retryDelaySeconds,
  triggerVerdict,
} from './policy';
export type { StatusClass, TriggerVerdict, UpstreamCounts } from './policy';
export { planResume } from './resume';
export type { ResumePlan } from './resume';
export { cacheKey, decideCache, diffCacheKeys, isMutableImage } from './cache';
export type {
  CacheCandidate,
  CacheDecision,
  CacheInput,
  CacheKey,
  CacheMissCode,
  CacheOptions,
} from './cache';
export { CronError, cronError, nextCronTime, parseCron } from './cron';
export type { CronExpression } from './cron';
export { createScheduleState, nextScheduleSlot, onScheduledRunDone, scheduleTick } from './schedule';
export type { CatchUpPolicy, ScheduleOptions, ScheduleState, ScheduleTick } from './schedule';
export { scanOutputRefs } from './refs';
export type { OutputRef } from './refs';
export type * from './types';
export { resolveOpParams } from './resolve';
export type { ResolvedParams } from './resolve';
