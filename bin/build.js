// When dist/ needs rebuilding, and how — shared by the launcher
// (bin/portcullis.js) and the benchmark (bench/run.mjs), so that both apply
// the same rule: dist/ is stale when any non-test .ts under src/, or a build
// configuration file, is newer than dist/.build-stamp.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function newestSourceMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when dist/ matches the sources (or there are no sources: a packaged install). */
export function buildIsCurrent(root) {
  if (!existsSync(join(root, 'src'))) return true;
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return false;
  const configs = ['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs);
  return statSync(stamp).mtimeMs >= Math.max(newestSourceMtime(join(root, 'src')), ...configs);
}

/** Runs tsc into dist/ and writes the stamp; returns false when tsc failed or is missing. */
export function build(root, options = {}) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) return false;
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2], timeout: options.timeoutMs ?? 600_000 });
  if (result.status !== 0) return false;
  writeFileSync(join(root, 'dist', '.build-stamp'), new Date().toISOString() + '\n');
  return true;
}
