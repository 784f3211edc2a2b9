import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OutputDownload } from '@myelin/sdk';
import { CliError, createContext, EXIT } from '../cli-context';
import { ago, printJson, table } from '../output/format';

const common = (cmd: Command) =>
  cmd
    .option('-p, --project <name>', 'project ("name" or "owner/name"; default: $MYELIN_PROJECT or "default")')
    .option('--host <url>', 'API URL (default: $MYELIN_HOST or http://127.0.0.1:8000)');

/** 1536 -> "1.5 KiB". */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A progress bar on stderr when it is a terminal (never in pipes, CI logs or with --json). */
function progress(label: string, total: number | null, enabled: boolean): { tick(n: number): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { tick: () => undefined, stop: () => undefined };
  const started = Date.now();
  let done = 0;
  const payload = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    return { label, transferred: humanBytes(done), size: total === null ? '?' : humanBytes(total), speed: `${humanBytes(Math.round(done / seconds))}/s` };
  };
  const bar = new SingleBar({
    stream: process.stderr,
    format: total === null ? '{label} {transferred} | {speed}' : '{label} [{bar}] {percentage}% | {transferred}/{size} | {speed}',
    hideCursor: true,
    clearOnComplete: false,
    barsize: 30,
  });
  bar.start(total ?? 1, 0, payload());
  return {
    tick(n: number) {
      done += n;
      bar.update(total === null ? 0 : done, payload());
    },
    stop() {
      bar.update(total === null ? 1 : done, payload());
      bar.stop();
    },
  };
}

/** Save a download to `target` ('-' = stdout), through `<target>.part` so a cut download leaves no half file. */
async function save(download: OutputDownload, target: string, label: string, showProgress: boolean): Promise<number> {
  const bar = progress(label, download.size, showProgress && target !== '-');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      bar.tick(chunk.length);
      done(null, chunk);
    },
  });
  const source = Readable.from(download.body);
  try {
    if (target === '-') {
      await pipeline(source, count, process.stdout as unknown as Writable, { end: false });
    } else {
      const part = `${target}.part`;
      try {
        await pipeline(source, count, createWriteStream(part));
        await rename(part, target);
      } catch (error) {
        await unlink(part).catch(() => undefined);
        throw error;
      }
    }
  } finally {
    bar.stop();
  }
  if (download.size !== null && bytes !== download.size) throw new CliError(`download cut short: ${bytes} of ${download.size} bytes`);
  return bytes;
}

export function outputsCommand(): Command {
  const outputs = new Command('outputs').description("a run's outputs (artifacts, checkpoints under checkpoints/): list and download");
  outputs.addCommand(
    common(new Command('ls'))
      .description("list a run's outputs, recursively")
      .argument('<run>', 'run uuid or number')
      .option('--path <folder>', 'only this folder of the outputs')
      .option('--json', 'print {"entries": [{"path", "type", "size", "modified"}]}')
      .action(async (ref: string, opts: { project?: string; host?: string; path?: string; json?: boolean }) => {
        const ctx = createContext(opts);
        const run = await ctx.resolveRun(ref);
        const tree = await ctx.client.outputsTree(run.uuid, opts.path);
        if (opts.json) return printJson(tree);
        if (!tree.entries.length) return void process.stdout.write('No outputs yet.\n');
        process.stdout.write(
          `${table(
            ['PATH', 'TYPE', 'SIZE', 'MODIFIED'],
            tree.entries.map((e) => [e.type === 'dir' ? `${e.path}/` : e.path, e.type, humanBytes(e.size), ago(e.modified)]),
          )}\n`,
        );
      }),
  );
  outputs.addCommand(
    common(new Command('get'))
      .description("download one file of a run's outputs")
      .argument('<run>', 'run uuid or number')
      .argument('<path>', 'the file, relative to the outputs (e.g. checkpoints/ckpt-1.bin)')
      .option('-o, --output <file>', 'where to write it ("-" for stdout; default: its name, in this directory)')
      .action(async (ref: string, path: string, opts: { project?: string; host?: string; output?: string }) => {
        const ctx = createContext(opts);
        const run = await ctx.resolveRun(ref);
        const name = posix.basename(path);
        if (!opts.output && (!name || name === '..' || name === '.')) throw new CliError(`"${path}" does not name a file; use -o to choose where to write`, EXIT.usage);
        const target = opts.output ?? name;
        const download = await ctx.client.downloadOutput(run.uuid, path);
        const bytes = await save(download, target, name, true);
        if (target !== '-') process.stderr.write(`Wrote ${humanBytes(bytes)} to ${target}\n`);
      }),
  );
  outputs.addCommand(
    common(new Command('download'))
      .description("download a run's outputs (or one folder) as a .tar.gz")
      .argument('<run>', 'run uuid or number')
      .option('--path <folder>', 'only this folder of the outputs')
      .option('-o, --output <file>', 'where to write it ("-" for stdout; default: run-<number>-outputs.tar.gz)')
      .action(async (ref: string, opts: { project?: string; host?: string; path?: string; output?: string }) => {
        const ctx = createContext(opts);
        const run = await ctx.resolveRun(ref);
        const target = opts.output ?? `run-${run.number}-outputs.tar.gz`;
        const download = await ctx.client.downloadOutputsArchive(run.uuid, opts.path);
        const bytes = await save(download, target, posix.basename(target), true);
        if (target !== '-') process.stderr.write(`Wrote ${humanBytes(bytes)} to ${target}\n`);
      }),
  );
  return outputs;
}
