import { BaseServiceEnv } from '@myelin/config';

/** Pipelines configuration: the shared variables for now; its engine adds its own. */
export class PipelinesEnv extends BaseServiceEnv {}
