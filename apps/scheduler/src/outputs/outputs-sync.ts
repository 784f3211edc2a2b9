import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isFinal, RunStatusChanged } from '@myelin/contracts';
import type { MessageBus, MessageHandler } from '@myelin/bus';
import { loadConfig } from '@myelin/config';
import { ARTIFACTS_STORE_PATTERN, ArtifactStore, createArtifactStore, LocalArtifactStore, parseArtifactStoreUrl } from '@myelin/artifacts';

/** The variables of the outputs sync (the same names and defaults as the tracking service's). */
export class OutputsSyncEnv {
  @Matches(ARTIFACTS_STORE_PATTERN, { message: 'must be "local" or "s3://bucket[/prefix]"' }) MYELIN_ARTIFACTS_STORE: string = 'local';
  @IsString() MYELIN_HOME: string = '';
  @IsOptional() @IsString() MYELIN_RUNS_DIR?: string;
  @IsOptional() @Matches(/^https?:\/\//, { message: 'must be an http:// or https:// URL' }) MYELIN_S3_ENDPOINT?: string;
  @IsOptional() @IsString() MYELIN_S3_REGION?: string;
  @IsIn(['auto', 'true', 'false']) MYELIN_S3_FORCE_PATH_STYLE: string = 'auto';
  @IsOptional() @IsString() AWS_ACCESS_KEY_ID?: string;
  @IsOptional() @IsString() AWS_SECRET_ACCESS_KEY?: string;
}

/** Copies a run's outputs from the local folder its job wrote into to the configured bucket. */
export class OutputsSync {
  constructor(
    readonly local: LocalArtifactStore,
    readonly remote: ArtifactStore,
  ) {}

  /** Every file, streamed one at a time; files already there are replaced (a redelivery is harmless). Returns the files copied. */
  async copy(runUuid: string): Promise<number> {
    let files = 0;
    for (const entry of await this.local.list(runUuid)) {
      if (entry.type !== 'file') continue;
      const file = await this.local.read(runUuid, entry.path);
      await this.remote.write(runUuid, entry.path, file.stream);
      files++;
    }
    return files;
  }
}

/**
 * With `MYELIN_ARTIFACTS_STORE=s3://...`, jobs on the local executor still write their outputs
 * into `<runsDir>/<uuid>/outputs`; this copies them to the bucket when the run reaches a final
 * status (on `scheduler.evt.run.status-changed.v1`, through its own durable queue
 * `scheduler-outputs`: a failed copy is retried, then dead-lettered). Does nothing (null) with
 * the local store. Runs on the scheduler's host, where the folders are.
 */
export async function startOutputsSync(env: Record<string, string | undefined>, bus: MessageBus): Promise<OutputsSync | null> {
  const config = loadConfig(OutputsSyncEnv, env);
  if (parseArtifactStoreUrl(config.MYELIN_ARTIFACTS_STORE).kind === 'local') return null;
  const runsDir = config.MYELIN_RUNS_DIR ?? join(config.MYELIN_HOME || join(homedir(), '.myelin'), 'runs');
  const sync = new OutputsSync(
    new LocalArtifactStore(runsDir),
    createArtifactStore({
      store: config.MYELIN_ARTIFACTS_STORE,
      runsDir,
      s3Endpoint: config.MYELIN_S3_ENDPOINT,
      s3Region: config.MYELIN_S3_REGION,
      accessKeyId: config.AWS_ACCESS_KEY_ID,
      secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
      ...(config.MYELIN_S3_FORCE_PATH_STYLE !== 'auto' ? { s3ForcePathStyle: config.MYELIN_S3_FORCE_PATH_STYLE === 'true' } : {}),
    }),
  );
  const onStatus = (async (event: RunStatusChanged.Payload) => {
    if (isFinal(event.status)) await sync.copy(event.runUuid);
  }) as MessageHandler;
  onStatus.topics = RunStatusChanged.FINAL_TOPICS;
  await bus.consume('scheduler-outputs', new Map([[RunStatusChanged.PATTERN, onStatus]]));
  return sync;
}
