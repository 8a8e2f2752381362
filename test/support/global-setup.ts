import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds dist/ once, so tests that run the real CLI as a process find it
 * current. `PORTCULLIS_TEST_SKIP_BUILD=1` skips it for a targeted run of
 * tests that spawn no process (vitest compiles the sources itself).
 */
export default function setup(): void {
  if (process.env.PORTCULLIS_TEST_SKIP_BUILD === '1') return;
  const root = join(import.meta.dirname, '..', '..');
  const result = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('TypeScript build failed before tests');
  writeFileSync(join(root, 'dist', '.build-stamp'), new Date().toISOString() + '\n');
}
