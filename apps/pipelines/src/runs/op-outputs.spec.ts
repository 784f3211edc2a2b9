import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileOpOutputsReader } from './op-outputs';

describe('FileOpOutputsReader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'op-outputs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (run: string, text: string) => {
    await mkdir(join(dir, run, 'outputs'), { recursive: true });
    await writeFile(join(dir, run, 'outputs', 'outputs.json'), text);
  };

  it('reads the JSON object an op wrote to $MYELIN_OUTPUTS_PATH/outputs.json', async () => {
    await write('a', '{"rows": 500, "model": "s3://m", "ok": true}');
    await expect(new FileOpOutputsReader(dir).read('a')).resolves.toEqual({ outputs: { rows: 500, model: 's3://m', ok: true } });
  });

  it('gives no outputs when the file is missing, and says what is wrong with a bad one', async () => {
    const reader = new FileOpOutputsReader(dir);
    await expect(reader.read('missing')).resolves.toEqual({ outputs: {} });
    await write('list', '[1, 2]');
    await expect(reader.read('list')).resolves.toEqual({ outputs: {}, problem: 'outputs.json is not a JSON object' });
    await write('broken', '{"rows": ');
    const broken = await reader.read('broken');
    expect(broken.outputs).toEqual({});
    expect(broken.problem).toMatch(/^outputs.json is not valid JSON/);
  });
});
