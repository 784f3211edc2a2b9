export const EXECUTOR = Symbol('EXECUTOR');
export const SCHEDULER_ENV = Symbol('SCHEDULER_ENV');
export const RUN_LEASE = Symbol('RUN_LEASE');
