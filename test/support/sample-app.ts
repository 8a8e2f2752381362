import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from './backends.js';
import { cliEnv, freePort, ROOT, runCli, spawnServer, waitForStatus, type ServerProcess } from './cli.js';

/** The README's newcomer path, as processes: a Portcullis server, one database user, examples/sample-app. */
export interface SampleStack {
  readonly server: ServerProcess;
  /** The sample app, e.g. `http://localhost:4123` (another site than the server, as in real life). */
  readonly sampleBase: string;
  readonly user: { readonly email: string; readonly password: string };
  /** Server and sample app output so far, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

export const SAMPLE_USER = Object.freeze({ email: 'newcomer@example.test', password: 'correct horse battery staple' });

/**
 * Starts the server on SQLite, creates the sample app's client and a user with
 * the CLI exactly as the README says, then starts examples/sample-app.
 */
export async function startSampleStack(): Promise<SampleStack> {
  const testDb: TestDatabase = await createTestDatabase('sqlite');
  let server: ServerProcess | undefined;
  let sample: ChildProcess | undefined;
  let sampleOut = '';
  const stop = async () => {
    if (sample && sample.exitCode === null) {
      const exited = new Promise((resolve) => sample!.once('close', resolve));
      sample.kill('SIGTERM');
      await exited;
    }
    await server?.stop();
    await testDb.drop();
  };
  try {
    const port = await freePort();
    const env = { DATABASE_URL: testDb.url, PUBLIC_URL: `http://127.0.0.1:${port}` };
    server = await spawnServer([], { ...env, PORT: String(port) });
    await waitForStatus(`${server.base}/readyz`, 200, 20_000);
    const samplePort = await freePort();
    const sampleBase = `http://localhost:${samplePort}`;
    const created = await runCli(['client', 'create', 'Sample app', '--callback', `${sampleBase}/callback`, '--logout-url', `${sampleBase}/`, '--json'], env);
    if (created.code !== 0) throw new Error(`client create failed: ${created.stderr}`);
    const app = JSON.parse(created.stdout) as Record<string, string>;
    const user = await runCli(['user', 'create', SAMPLE_USER.email], { ...env, PORTCULLIS_PASSWORD: SAMPLE_USER.password });
    if (user.code !== 0) throw new Error(`user create failed: ${user.stderr}`);
    sample = spawn(process.execPath, [join(ROOT, 'examples/sample-app/server.mjs')], {
      cwd: ROOT,
      env: cliEnv({ ISSUER: app.issuer!, CLIENT_ID: app.client_id!, CLIENT_SECRET: app.client_secret!, PORT: String(samplePort) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sample.stdout?.on('data', (d: Buffer) => (sampleOut += d.toString()));
    sample.stderr?.on('data', (d: Buffer) => (sampleOut += d.toString()));
    await waitForStatus(`${sampleBase}/`, 200, 20_000);
    const started = server;
    return {
      server: started,
      sampleBase,
      user: SAMPLE_USER,
      output: () => `--- server\n${started.output()}\n--- sample app\n${sampleOut}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
