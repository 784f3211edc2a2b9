import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePolyaxonfiles } from '@myelin/spec';
import { createOptimizer, restoreOptimizer } from './index';
import type { Trial } from './index';
import { withinSpace } from './testing/helpers';

// Every valid group polyaxonfile of libs/spec, parsed by @myelin/spec, runs to completion here.
const dir = path.join(__dirname, '..', '..', 'spec', 'src', '__fixtures__', 'valid');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('group_') && f.endsWith('.yml')) : [];

describe('libs/spec group fixtures', () => {
  it('exist', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files)('%s runs to completion through createOptimizer', (file) => {
    const spec = parsePolyaxonfiles([{ path: file, content: fs.readFileSync(path.join(dir, file), 'utf8') }]);
    const h = spec.hptuning!;
    const opt = createOptimizer(h, { seed: 1 });
    const resource = h.hyperband?.resource.name ?? h.asha?.resource.name;
    const seen: Trial[] = [];
    for (let round = 0; round < 2000 && !opt.isFinished(); round++) {
      const batch: Trial[] = [];
      for (let t = opt.ask(); t; t = opt.ask()) batch.push(t);
      for (const t of batch) {
        seen.push(t);
        expect(withinSpace(h.matrix, t.params, resource ? [resource] : [])).toBe(true);
        opt.tell(t.id, { value: (t.id * 7919) % 101 });
      }
      if (round === 3) {
        // and survives a restore mid-way
        const again = restoreOptimizer(h, JSON.parse(JSON.stringify(opt.toJSON())));
        expect(again.trials()).toEqual(opt.trials());
      }
    }
    expect(opt.isFinished()).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
  });
});
