import { BaseServiceEnv } from '@myelin/config';

/** Ci configuration: the shared variables for now; its engine adds its own. */
export class CiEnv extends BaseServiceEnv {}
