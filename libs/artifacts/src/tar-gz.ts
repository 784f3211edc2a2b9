import { PassThrough, pipeline, Readable, Transform, TransformCallback } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import type { ArtifactEntry, ArtifactFile } from './artifact-store';

/**
 * Exactly `size` bytes of a stream: cut what goes beyond, pad with zeros what is missing. A tar
 * header announces a file's size before its bytes; a job may still be writing the file, and a
 * growing or truncated file must not corrupt the archive.
 */
export function exactly(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      const room = size - seen;
      if (room <= 0) return done();
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      seen += part.length;
      done(null, part);
    },
    flush(done: TransformCallback) {
      if (seen < size) this.push(Buffer.alloc(size - seen));
      done();
    },
  });
}

/**
 * A `.tar.gz` of `entries`, streamed: one file open at a time, each piped into the archive with
 * backpressure all the way to the consumer. `open` gives a file's current bytes and size.
 * A failure midway destroys the returned stream with the error.
 */
export function tarGzStream(entries: ArtifactEntry[], open: (path: string) => Promise<ArtifactFile>): Readable {
  const tar = tarPack();
  const out = new PassThrough();
  pipeline(tar as unknown as Readable, createGzip(), out, () => undefined);

  let current: Readable | undefined;
  // The consumer went away (client disconnected): release the open file.
  out.once('close', () => current?.destroy());
  const fail = (error: unknown) => {
    current?.destroy();
    out.destroy(error instanceof Error ? error : new Error(String(error)));
    tar.destroy();
  };
  void (async () => {
    for (const entry of entries) {
      if (out.destroyed) return;
      const mtime = new Date(entry.modified);
      if (entry.type === 'dir') {
        await new Promise<void>((resolve, reject) => tar.entry({ name: `${entry.path}/`, type: 'directory', mtime, mode: 0o755 }, (e) => (e ? reject(e) : resolve())));
        continue;
      }
      const file = await open(entry.path);
      if (out.destroyed) return void file.stream.destroy();
      current = file.stream;
      await new Promise<void>((resolve, reject) => {
        const sink = tar.entry({ name: entry.path, type: 'file', size: file.size, mtime, mode: 0o644 }, (e) => (e ? reject(e) : resolve()));
        file.stream.once('error', reject);
        file.stream.pipe(exactly(file.size)).pipe(sink as unknown as NodeJS.WritableStream);
      });
    }
    current = undefined;
    tar.finalize();
  })().catch(fail);
  return out;
}
