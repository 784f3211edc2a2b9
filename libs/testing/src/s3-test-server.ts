import { createTempDir } from './temp-dir';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`: give it to the AWS SDK as `endpoint`, with `forcePathStyle`. */
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Where the server keeps objects and multipart parts (to see what reached storage). */
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A real S3-protocol server in this process (s3rver, objects in a temp directory) on a free
 * port, with one empty bucket: tests drive it with the real AWS SDK client, not a mock.
 */
export async function startS3TestServer(bucket = 'myelin-test'): Promise<S3TestServer> {
  // Loaded here, not at import: s3rver is a dev dependency and this lib's other helpers are not.
  const S3rver = require('s3rver') as typeof import('s3rver');
  const dir = await createTempDir('myelin-s3');
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir.path, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    region: 'us-east-1',
    // s3rver's fixed keys.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    dataDir: dir.path,
    async close() {
      await server.close();
      await dir.remove();
    },
  };
}
