import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectsV2CommandOutput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable, Transform } from 'node:stream';
import { ArtifactEntry, ArtifactFile, ArtifactStore, checkRunUuid, invalidPath, normalizeArtifactPath, notFound } from './artifact-store';
import { tarGzStream } from './tar-gz';

export interface S3ArtifactStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or `a/b`); a run's outputs are under `<prefix>/<runUuid>/outputs/`. */
  prefix?: string;
  /** An S3-compatible server (MinIO, Ceph, s3rver...); unset: AWS. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (what most S3-compatible servers need). */
  forcePathStyle?: boolean;
  /** Multipart upload: bytes per part (at least 5 MiB) and parts in flight; memory per upload is about their product. */
  partSize?: number;
  queueSize?: number;
  /** An existing client (tests, custom middleware); the other connection options are then ignored. */
  client?: S3Client;
}

const MIN_PART = 5 * 1024 * 1024;

/**
 * Outputs in an S3-compatible bucket under `s3://bucket/prefix/<runUuid>/outputs/<path>`.
 * Uploads stream through multipart uploads (`@aws-sdk/lib-storage`), downloads stream the object
 * bodies; folders are key prefixes (empty folders do not exist in a bucket).
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3ArtifactStoreOptions) {
    this.prefix = (options.prefix ?? '').split('/').filter(Boolean).join('/');
    this.client =
      options.client ??
      new S3Client({
        region: options.region ?? 'us-east-1',
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        forcePathStyle: options.forcePathStyle ?? !!options.endpoint,
        // Checksums only where the API demands them: many S3-compatible servers reject the newer
        // default (CRC32 trailers on streamed bodies).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
  }

  get location(): string {
    return `s3://${this.options.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  /** The key prefix of a run's outputs, ending with `/`. */
  runKey(runUuid: string): string {
    return `${this.prefix ? `${this.prefix}/` : ''}${checkRunUuid(runUuid)}/outputs/`;
  }

  async list(runUuid: string, prefix = ''): Promise<ArtifactEntry[]> {
    const rel = normalizeArtifactPath(prefix, { allowRoot: true });
    const base = this.runKey(runUuid);
    const files: ArtifactEntry[] = [];
    for await (const object of this.objects(`${base}${rel ? `${rel}/` : ''}`)) {
      const path = object.Key!.slice(base.length);
      if (!path || path.endsWith('/')) continue; // folder markers some tools create
      files.push({ path, type: 'file', size: object.Size ?? 0, modified: (object.LastModified ?? new Date(0)).toISOString() });
    }
    if (rel && !files.length) throw notFound(`no folder "${rel}" in the outputs of run ${runUuid}`);
    // Folders are the key prefixes between `rel` and each file.
    const dirs = new Map<string, ArtifactEntry>();
    for (const f of files) {
      const parts = f.path.split('/');
      for (let i = rel ? rel.split('/').length + 1 : 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        const entry = dirs.get(dir) ?? { path: dir, type: 'dir' as const, size: 0, modified: f.modified };
        entry.size += f.size;
        if (f.modified > entry.modified) entry.modified = f.modified;
        dirs.set(dir, entry);
      }
    }
    return [...files, ...dirs.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async read(runUuid: string, path: string): Promise<ArtifactFile> {
    const rel = normalizeArtifactPath(path, { allowRoot: false });
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: `${this.runKey(runUuid)}${rel}` }));
      return { stream: res.Body as Readable, size: res.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) throw notFound(`no file "${rel}" in the outputs of run ${runUuid}`);
      throw error;
    }
  }

  async write(runUuid: string, path: string, body: Readable): Promise<{ path: string; size: number }> {
    const rel = normalizeArtifactPath(path, { allowRoot: false });
    await this.checkWritable(runUuid, rel);
    let size = 0;
    const counted = new Transform({
      transform(chunk: Buffer | string, _enc, done) {
        // Bytes, also for a stream of strings.
        size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        done(null, chunk);
      },
    });
    body.once('error', (error) => counted.destroy(error));
    body.pipe(counted);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: `${this.runKey(runUuid)}${rel}`, Body: counted },
      partSize: Math.max(MIN_PART, this.options.partSize ?? MIN_PART),
      queueSize: this.options.queueSize ?? 2,
      leavePartsOnError: false,
    });
    await upload.done();
    return { path: rel, size };
  }

  /** The same tree rules as a filesystem: no file over a folder, no folder under a file. */
  private async checkWritable(runUuid: string, rel: string): Promise<void> {
    const base = this.runKey(runUuid);
    // Delimited, so the answer stays one short page however many files the folder holds.
    const under = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${base}${rel}/`, Delimiter: '/' }));
    if (under.Contents?.length || under.CommonPrefixes?.length) throw invalidPath(`cannot write "${rel}": it is a folder`);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const exists = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: `${base}${parts.slice(0, i).join('/')}` })).then(
        () => true,
        (error: unknown) => {
          if (isMissing(error)) return false;
          throw error;
        },
      );
      if (exists) throw invalidPath(`cannot write "${rel}": a file stands where a folder is needed`);
    }
  }

  async deleteRun(runUuid: string): Promise<void> {
    let batch: string[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const res = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      if (res.Errors?.length) throw new Error(`could not delete ${res.Errors.length} objects of run ${runUuid}: ${res.Errors[0].Code ?? ''} ${res.Errors[0].Message ?? ''}`);
      batch = [];
    };
    for await (const object of this.objects(this.runKey(runUuid))) {
      batch.push(object.Key!);
      if (batch.length === 1000) await flush();
    }
    await flush();
  }

  async tarGz(runUuid: string, prefix = ''): Promise<Readable> {
    const entries = await this.list(runUuid, prefix);
    return tarGzStream(entries, (p) => this.read(runUuid, p));
  }

  private async *objects(keyPrefix: string): AsyncGenerator<NonNullable<ListObjectsV2CommandOutput['Contents']>[number]> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: keyPrefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const object of page.Contents ?? []) if (object.Key) yield object;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

function isMissing(error: unknown): boolean {
  if (error instanceof S3ServiceException) return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata?.httpStatusCode === 404;
  return false;
}
