import { randomBytes } from 'node:crypto';

/** Injectable clock and id source, so tests can be deterministic. */
export interface Runtime {
  now(): Date;
  /** Random identifier: `prefix` + `bytes` of randomness, hex or alphanumeric. */
  randomId(prefix: string, bytes: number, alphabet?: 'hex' | 'alnum'): string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function alnum(length: number): string {
  // Rejection sampling keeps every character equally likely (no modulo bias).
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALNUM[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const systemRuntime: Runtime = {
  now: () => new Date(),
  randomId(prefix, bytes, alphabet = 'hex') {
    return prefix + (alphabet === 'hex' ? randomBytes(bytes).toString('hex') : alnum(bytes));
  },
};

export function isoNow(runtime: Runtime): string {
  return runtime.now().toISOString();
}
