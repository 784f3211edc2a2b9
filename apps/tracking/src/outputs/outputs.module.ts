import { DynamicModule, Module } from '@nestjs/common';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { ArtifactStore, createArtifactStore } from '@myelin/artifacts';
import { TrackingEnv } from '../config/env';
import { TRACKING_ENV } from '../tokens';
import { BusTokenVerifier } from '../auth/bus-token-verifier';
import { OutputsController } from './outputs.controller';
import { OutputsRpcController } from './outputs.rpc-controller';
import { ARTIFACT_STORE } from './outputs.tokens';

/**
 * The runs folder, computed as the scheduler computes it (MYELIN_RUNS_DIR, else
 * $MYELIN_HOME/runs, else ~/.myelin/runs): with the local store, tracking serves the very folders
 * the local executor hands jobs as MYELIN_OUTPUTS_PATH (`myelin up` gives both apps one home).
 */
export function runsDirOf(env: TrackingEnv): string {
  return env.MYELIN_RUNS_DIR ?? join(env.MYELIN_HOME || join(homedir(), '.myelin'), 'runs');
}

export function artifactStoreOf(env: TrackingEnv): ArtifactStore {
  return createArtifactStore({
    store: env.MYELIN_ARTIFACTS_STORE,
    runsDir: runsDirOf(env),
    s3Endpoint: env.MYELIN_S3_ENDPOINT,
    s3Region: env.MYELIN_S3_REGION,
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...(env.MYELIN_S3_FORCE_PATH_STYLE !== 'auto' ? { s3ForcePathStyle: env.MYELIN_S3_FORCE_PATH_STYLE === 'true' } : {}),
  });
}

/** Runs' outputs over HTTP, and their removal with the run. */
@Module({})
export class OutputsModule {
  static forRoot(deps: { env: TrackingEnv; bus: MessageBus; store?: ArtifactStore }): DynamicModule {
    const store = deps.store ?? artifactStoreOf(deps.env);
    return {
      module: OutputsModule,
      controllers: [OutputsController, OutputsRpcController],
      providers: [
        { provide: ARTIFACT_STORE, useValue: store },
        { provide: TRACKING_ENV, useValue: deps.env },
        { provide: MESSAGE_BUS, useValue: deps.bus },
        BusTokenVerifier,
      ],
    };
  }
}
