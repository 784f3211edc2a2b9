export const EXECUTOR = Symbol('EXECUTOR');
export const SCHEDULER_ENV = Symbol('SCHEDULER_ENV');
