import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPolyaxonfiles } from './index';
const dir = path.join(__dirname, '__fixtures__/invalid');
test('annotate', () => {
  for (const f of fs.readdirSync(dir).sort()) {
    let content = fs.readFileSync(path.join(dir, f), 'utf8');
    if (content.includes('# expect:')) continue;
    const params: Record<string, string> = {};
    for (const m of content.matchAll(/^# params: ([^=\s]+)=(.*)$/gm)) params[m[1]] = m[2];
    const r = checkPolyaxonfiles([{ path: f, content }], { params });
    if (r.ok) { console.log('VALID', f); continue; }
    if (!content.endsWith('\n')) content += '\n';
    content += r.errors.map((e) => `# expect: ${e.file === f ? '' : e.file + ':'}${e.line}:${e.column} ${e.path || '-'}: ${e.message}`).join('\n') + '\n';
    fs.writeFileSync(path.join(dir, f), content);
  }
});
