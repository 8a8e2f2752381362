// Regenerates the settings table in docs/configuration.md from src/config/schema.ts
// (run `npm run build` first). A test fails when the two disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const { settingDocs } = await import(join(root, 'dist/config/schema.js'));
const file = join(root, 'docs/configuration.md');
const begin = '<!-- settings:begin -->';
const end = '<!-- settings:end -->';
const table = ['| Variable | Default | Meaning |', '|---|---|---|', ...settingDocs.map((s) => `| \`${s.env}\` | \`${s.default}\` | ${s.description} |`)].join('\n');
const doc = readFileSync(file, 'utf8');
const start = doc.indexOf(begin);
const stop = doc.indexOf(end);
if (start === -1 || stop === -1) throw new Error('docs/configuration.md lacks the settings markers');
writeFileSync(file, doc.slice(0, start + begin.length) + '\n' + table + '\n' + doc.slice(stop));
