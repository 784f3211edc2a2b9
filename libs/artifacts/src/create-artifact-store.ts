import type { ArtifactStore } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';
import { S3ArtifactStore } from './s3-artifact-store';

export type ArtifactStoreLocation = { kind: 'local' } | { kind: 's3'; bucket: string; prefix: string };

/** The URL-like setting MYELIN_ARTIFACTS_STORE: `local`, or `s3://bucket` / `s3://bucket/prefix`. */
export const ARTIFACTS_STORE_PATTERN = /^(local|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?)$/;

export function parseArtifactStoreUrl(url: string | undefined): ArtifactStoreLocation {
  const value = (url ?? '').trim() || 'local';
  if (value === 'local') return { kind: 'local' };
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(value);
  if (!m || !ARTIFACTS_STORE_PATTERN.test(value)) throw new Error(`artifacts store must be "local" or "s3://bucket[/prefix]", got "${value}"`);
  return { kind: 's3', bucket: m[1], prefix: m[2].split('/').filter(Boolean).join('/') };
}

export interface ArtifactStoreConfig {
  /** `local` (default) or `s3://bucket[/prefix]`. */
  store?: string;
  /** Local store: the folder holding `<runUuid>/outputs` (the scheduler's runs folder). */
  runsDir: string;
  s3Endpoint?: string;
  s3Region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Default: path-style when an endpoint is set (S3-compatible servers), virtual-hosted on AWS. */
  s3ForcePathStyle?: boolean;
}

/** The store a service's configuration names. Without S3 keys, the AWS SDK's default chain applies. */
export function createArtifactStore(config: ArtifactStoreConfig): ArtifactStore {
  const where = parseArtifactStoreUrl(config.store);
  if (where.kind === 'local') return new LocalArtifactStore(config.runsDir);
  return new S3ArtifactStore({
    bucket: where.bucket,
    prefix: where.prefix,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
    ...(config.s3Region ? { region: config.s3Region } : {}),
    ...(config.accessKeyId && config.secretAccessKey ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } } : {}),
    ...(config.s3ForcePathStyle !== undefined ? { forcePathStyle: config.s3ForcePathStyle } : {}),
  });
}
