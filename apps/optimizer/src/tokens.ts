export const OPTIMIZER_ENV = Symbol('OPTIMIZER_ENV');
