export const PIPELINES_ENV = Symbol('PIPELINES_ENV');
export const OP_OUTPUTS = Symbol('OP_OUTPUTS');
