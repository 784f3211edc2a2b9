export const TRACKING_ENV = Symbol('TRACKING_ENV');
export const LOG_NOTIFIER = Symbol('LOG_NOTIFIER');
