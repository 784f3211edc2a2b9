import { BaseServiceEnv } from '@myelin/config';

/** Optimizer configuration: the shared variables for now; its engine adds its own. */
export class OptimizerEnv extends BaseServiceEnv {}
