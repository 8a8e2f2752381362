import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  /** A fetch that trusts this certificate — and only for itself: nothing process-wide changes. */
  readonly fetch: typeof fetch;
  remove(): void;
}

/**
 * A self-signed certificate for `localhost` and 127.0.0.1, made at test time
 * with openssl (P-256, one day), and a fetch that trusts exactly it through
 * undici's documented `connect.ca` option. Certificate checks stay on.
 */
export function selfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  const certPem = readFileSync(certFile, 'utf8');
  const dispatcher = new Agent({ connect: { ca: certPem } });
  const trusted = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof fetch;
  return { certFile, keyFile, certPem, fetch: trusted, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
