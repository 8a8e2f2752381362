// The baseline of the bench's `login` section (issue 3: "password login via
// the password-realm grant: ≥ 0.85× the raw argon2id verify rate measured on
// that core in the same run"): raw argon2id verifications, nothing else, in a
// process the bench pins to the server core.
//
//   node bench/argon2-baseline.mjs      (then commands on standard input)
//
// It verifies one password against one hash made at start with Portcullis's
// parameters, through the same library (@node-rs/argon2) and with as many
// verifications at once as Portcullis's hasher allows in a process pinned to
// one core: ARGON2_PARAMS and defaultConcurrency() are imported from the
// built src/users/password-hasher.ts (dist/), so they cannot drift from what
// the server uses. What the server adds around its verify (NFKC of the
// password, the FIFO semaphore, the PHC parse before queueing) is left out on
// purpose: that is part of what the ratio measures.
//
// Protocol (one line each way, JSON out):
//   start                 → {"ready":true,"concurrency":N,"params":{…},"uvThreadpoolSize":…}
//   "run <seconds>\n"     → {"verifies":n,"seconds":s,"failed":0}
// A run keeps `concurrency` verifications in flight until <seconds> have
// passed, then waits for the last ones; `seconds` runs from the start to the
// last completion, so verifies / seconds is the rate over exactly the work
// done (the bench reads this process's CPU time from /proc around the run).
import { hash, verify } from '@node-rs/argon2';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { ARGON2_PARAMS, defaultConcurrency } = await import(pathToFileURL(join(root, 'dist', 'users', 'password-hasher.js')).href);

// ASCII, so the NFKC form the server hashes is the same string.
const PASSWORD = process.env.ARGON2_BASELINE_PASSWORD ?? 'bench login password 0123';
const stored = await hash(PASSWORD, ARGON2_PARAMS);
const concurrency = defaultConcurrency();

async function run(seconds) {
  const started = performance.now();
  const end = started + seconds * 1000;
  let verifies = 0;
  let failed = 0;
  let last = started;
  const chain = async () => {
    while (performance.now() < end) {
      if (await verify(stored, PASSWORD)) verifies++;
      else failed++;
      last = performance.now();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, chain));
  return { verifies, failed, seconds: (last - started) / 1000 };
}

function stop() {
  process.exit(0);
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const lines = createInterface({ input: process.stdin });
let busy = Promise.resolve();
lines.on('line', (line) => {
  const match = /^run (\d+(?:\.\d+)?)$/.exec(line.trim());
  if (!match) {
    process.stdout.write(JSON.stringify({ error: `unknown command ${JSON.stringify(line)}` }) + '\n');
    return;
  }
  busy = busy.then(async () => process.stdout.write(JSON.stringify(await run(Number(match[1]))) + '\n'));
});
lines.on('close', stop);

process.stdout.write(JSON.stringify({ ready: true, concurrency, params: ARGON2_PARAMS, uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? null, hash: stored.replace(/\$[^$]+$/, '$…') }) + '\n');
