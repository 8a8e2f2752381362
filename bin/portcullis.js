#!/usr/bin/env node
// Launcher: builds dist/ from src/ when it is missing or older than the
// sources (so `npm start` needs no separate build step), then runs the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');

function newestSourceMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function needsBuild() {
  if (!existsSync(join(root, 'src'))) return false; // a published package ships dist/ only
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const configs = ['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs);
  return Math.max(newestSourceMtime(join(root, 'src')), ...configs) > built;
}

if (needsBuild()) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write('portcullis: dist/ is missing or stale and TypeScript is not installed; run npm install\n');
    process.exit(1);
  }
  process.stderr.write('portcullis: building (tsc)…\n');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) {
    process.stderr.write('portcullis: build failed (see the TypeScript errors above)\n');
    process.exit(1);
  }
  writeFileSync(stamp, new Date().toISOString() + '\n');
}

const { main } = await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
await main();
