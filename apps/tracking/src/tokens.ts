export const TRACKING_ENV = Symbol('TRACKING_ENV');
