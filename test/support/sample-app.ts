import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from './backends.js';
import { cliEnv, freePort, ROOT, runCli, spawnServer, waitForStatus, type ServerProcess } from './cli.js';

/** The README's newcomer path, as processes: a Portcullis server, one database user, examples/sample-app. */
export interface SampleStack {
  readonly server: ServerProcess;
  /** The sample app, e.g. `http://localhost:4123` (another site than the server, as in real life). */
  readonly sampleBase: string;
  /**
   * With `secondApp: true`, a second copy of the sample app with its own
   * client (own callback and logout URL), on another port of localhost: another
   * origin than the first, for SSO from one application into another.
   */
  readonly secondSampleBase: string | undefined;
  readonly user: { readonly email: string; readonly password: string };
  /** Server and sample app output so far, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

export interface SampleStackOptions {
  /** Also start a second sample app, registered as a second client. */
  readonly secondApp?: boolean;
}

export const SAMPLE_USER = Object.freeze({ email: 'newcomer@example.test', password: 'correct horse battery staple' });

interface SampleApp {
  readonly base: string;
  readonly child: ChildProcess;
  output(): string;
}

/** Creates a client for a sample app with the CLI, as the README says, and starts the app on a free port. */
async function startSampleApp(name: string, env: Record<string, string>, running: ChildProcess[]): Promise<SampleApp> {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const created = await runCli(['client', 'create', name, '--callback', `${base}/callback`, '--logout-url', `${base}/`, '--json'], env);
  if (created.code !== 0) throw new Error(`client create failed: ${created.stderr}`);
  const app = JSON.parse(created.stdout) as Record<string, string>;
  const child = spawn(process.execPath, [join(ROOT, 'examples/sample-app/server.mjs')], {
    cwd: ROOT,
    env: cliEnv({ ISSUER: app.issuer!, CLIENT_ID: app.client_id!, CLIENT_SECRET: app.client_secret!, PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitForStatus(`${base}/`, 200, 20_000);
  return { base, child, output: () => out };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Starts the server on SQLite, creates the sample app's client and a user with
 * the CLI exactly as the README says, then starts examples/sample-app (and,
 * when asked, a second one with its own client).
 */
export async function startSampleStack(options: SampleStackOptions = {}): Promise<SampleStack> {
  const testDb: TestDatabase = await createTestDatabase('sqlite');
  let server: ServerProcess | undefined;
  const running: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(running.map(stopChild));
    await server?.stop();
    await testDb.drop();
  };
  try {
    const port = await freePort();
    const env = { DATABASE_URL: testDb.url, PUBLIC_URL: `http://127.0.0.1:${port}` };
    server = await spawnServer([], { ...env, PORT: String(port) });
    await waitForStatus(`${server.base}/readyz`, 200, 20_000);
    const user = await runCli(['user', 'create', SAMPLE_USER.email], { ...env, PORTCULLIS_PASSWORD: SAMPLE_USER.password });
    if (user.code !== 0) throw new Error(`user create failed: ${user.stderr}`);
    const first = await startSampleApp('Sample app', env, running);
    const second = options.secondApp ? await startSampleApp('Second sample app', env, running) : undefined;
    const started = server;
    return {
      server: started,
      sampleBase: first.base,
      secondSampleBase: second?.base,
      user: SAMPLE_USER,
      output: () => [`--- server\n${started.output()}`, `--- sample app\n${first.output()}`, ...(second ? [`--- second sample app\n${second.output()}`] : [])].join('\n'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
