#!/usr/bin/env node
// Launcher: builds dist/ from src/ when it is missing or older than the
// sources (so `npm start` needs no separate build step), then runs the CLI.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, buildIsCurrent } from './build.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (!buildIsCurrent(root)) {
  if (!existsSync(join(root, 'node_modules', 'typescript'))) {
    process.stderr.write('portcullis: dist/ is missing or stale and TypeScript is not installed; run npm install\n');
    process.exit(1);
  }
  process.stderr.write('portcullis: building (tsc)…\n');
  if (!build(root)) {
    process.stderr.write('portcullis: build failed (see the TypeScript errors above)\n');
    process.exit(1);
  }
}

const { main } = await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
await main();
