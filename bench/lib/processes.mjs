// Servers under test: spawned pinned to one core, tracked so that every one
// of them is stopped however the benchmark ends, and probed through /proc.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

const OUTPUT_LIMIT = 16 * 1024;
const running = new Set();
const tempDirs = new Set();

/** The CPU list this process may run on, as the kernel reports it ("0-1", "1"). */
export function allowedCpus(pid = 'self') {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? 'unknown';
}

/** Resident set size and its high-water mark, in KiB, from /proc/<pid>/status. */
export function memoryKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s*(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Busy and total jiffies of one CPU, from /proc/stat (busy = all but idle and iowait). */
export function coreTicks(cpu) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: NaN, total: NaN };
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** User + system CPU time of a process (all its threads), in clock ticks. */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
}

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One GET to 127.0.0.1, without keep-alive; never throws, never hangs past timeoutMs. */
export function get(port, path, { timeoutMs = 2000, headers = {} } = {}) {
  return send(port, { path, headers, timeoutMs });
}

/**
 * One request to 127.0.0.1, without keep-alive; never throws, never hangs
 * past timeoutMs. Resolves { status, headers, body } or { status: 0, error }.
 */
export function send(port, { method = 'GET', path, headers = {}, body, timeoutMs = 2000 }) {
  return new Promise((resolve) => {
    const allHeaders = body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
    const req = request({ host: '127.0.0.1', port, method, path, headers: allHeaders, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        resolve({ status: 0, error: error.message });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: 0, error: error.message });
    });
    req.end(body);
  });
}

/**
 * User + system CPU ticks of every process whose command name is `name`
 * (e.g. the PostgreSQL server and its backends, which are not pinned), and how
 * many there were. Processes that vanish while being read are skipped.
 */
export function cpuTicksByName(name) {
  let ticks = 0;
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== name) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      count++;
    } catch {
      // exited meanwhile
    }
  }
  return { ticks, count };
}

/**
 * Spawns `taskset -c <cpu> node <script> ...args` (taskset execs node, so the
 * child's pid is the server's pid) and keeps the tail of its output for
 * diagnostics. `stdin: true` gives the child a pipe as standard input
 * (bench/argon2-baseline.mjs takes its commands there).
 */
export function spawnPinned({ cpu, script, args = [], env, cwd, label, stdin = false }) {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, script, ...args], { cwd, env, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const server = {
    label,
    child,
    pid: child.pid,
    exit: undefined,
    output: () => output,
  };
  server.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      server.exit = { code, signal };
      running.delete(server);
      resolve(server.exit);
    });
    child.once('error', (error) => {
      keep(`spawn failed: ${error.message}\n`);
      server.exit = { code: null, signal: null, error: error.message };
      running.delete(server);
      resolve(server.exit);
    });
  });
  running.add(server);
  return server;
}

/**
 * Polls GET <path> every intervalMs until it answers 200, the process exits,
 * or deadlineMs passes. Returns the time of the 200 (performance.now()).
 */
export async function waitFor200(server, port, path, { deadlineMs, intervalMs = 10 }) {
  const maxAttempts = Math.ceil(deadlineMs / intervalMs) + 1;
  const deadline = performance.now() + deadlineMs;
  for (let attempt = 0; attempt < maxAttempts && performance.now() < deadline; attempt++) {
    if (server.exit) break;
    const response = await get(port, path, { timeoutMs: Math.max(100, Math.min(2000, deadline - performance.now())) });
    if (response.status === 200) return performance.now();
    await sleep(intervalMs);
  }
  const why = server.exit ? `exited (${JSON.stringify(server.exit)})` : `no 200 from ${path} within ${deadlineMs} ms`;
  throw new Error(`${server.label} (pid ${server.pid}) ${why}; its output:\n${server.output()}`);
}

/** SIGTERM, then SIGKILL if it is still running after graceMs. */
export async function stopProcess(server, graceMs = 15_000) {
  if (server.exit) return server.exit;
  server.child.kill('SIGTERM');
  const timeout = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([server.exited, timeout])) === 'timeout') {
    server.child.kill('SIGKILL');
    await Promise.race([server.exited, sleep(5000)]);
  }
  return server.exit;
}

/** Stops every server still running and removes every temp dir. */
export async function cleanupAll() {
  await Promise.all([...running].map((server) => stopProcess(server, 5000)));
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

/** Last resort on process exit: synchronous, so it can only SIGKILL and rm. */
export function killAllSync() {
  for (const server of running) server.child.kill('SIGKILL');
  for (const dir of [...tempDirs]) removeTempDir(dir);
}
