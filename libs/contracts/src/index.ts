// Decorator metadata (class-transformer @Type, class-validator) needs the Reflect polyfill.
import 'reflect-metadata';
export * from './runs/run-kind';
export * from './runs/run-status';
export * from './messages/message-kind';
export * from './messages/validate';
export * from './messages/registry';
export * from './messages/runs/run-created/run-created.message';
export * from './messages/runs/run-start/run-start.message';
export * from './messages/runs/run-stop/run-stop.message';
export * from './messages/runs/run-status-changed/run-status-changed.message';
export * from './messages/runs/run-deleted/run-deleted.message';
export * from './messages/tracking/log-lines/log-lines.message';
export * from './messages/tracking/metrics-batch/metrics-batch.message';
export * from './messages/tracking/metrics-summarized/metrics-summarized.message';
export * from './messages/auth/token-verify/token-verify.message';
export * from './messages/auth/run-token-issue/run-token-issue.message';
export * from './metric-line';
export * from './runs/run-view';
