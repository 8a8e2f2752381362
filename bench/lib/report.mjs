// Summaries and the markdown report of `npm run bench`.

export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** median, min and max of a list of samples. */
export function spread(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const mib = (kib) => `${fixed(kib / 1024, 1)} MiB`;
const ms = (n) => `${int(n)} ms`;
const verdict = (met) => (met ? 'met' : '**missed**');

function goalRows(summary, goals) {
  const { throughput, cpuPerRequest: cost, startup, idleRss } = summary;
  const range = (stat, scale = 1) => `${int(stat.min / scale)}–${int(stat.max / scale)}`;
  return [
    `| GET /healthz req/s (median of ${throughput.portcullis.n} runs each) | ${int(throughput.portcullis.median)} | ${int(throughput.bare.median)} | ≥ ${goals.healthzRatio} × bare | ${fixed(throughput.ratio, 2)} × bare: ${verdict(throughput.ratio >= goals.healthzRatio)} |`,
    `| Server CPU per /healthz request (median) | ${fixed(cost.portcullisMicros.median, 1)} µs | ${fixed(cost.bareMicros.median, 1)} µs | same goal, per CPU-second | ${fixed(cost.ratio, 2)} × bare: ${verdict(cost.ratio >= goals.healthzRatio)} |`,
    `| Spawn → first /readyz 200, fresh DB (median, min–max of ${startup.fresh.n}) | ${ms(startup.fresh.median)} (${range(startup.fresh)}) | ${ms(startup.bare.median)}¹ | ≤ ${goals.startMs} ms | ${verdict(startup.fresh.median <= goals.startMs)} |`,
    `| Spawn → first /readyz 200, existing DB (median, min–max of ${startup.restart.n}) | ${ms(startup.restart.median)} (${range(startup.restart)}) | ${ms(startup.bare.median)}¹ | ≤ ${goals.startMs} ms | ${verdict(startup.restart.median <= goals.startMs)} |`,
    `| Idle RSS (median, min–max of ${idleRss.portcullis.n}) | ${mib(idleRss.portcullis.median)} (${fixed(idleRss.portcullis.min / 1024, 1)}–${fixed(idleRss.portcullis.max / 1024, 1)}) | ${mib(idleRss.bare.median)} | ≤ ${goals.idleRssMiB} MB | ${verdict(idleRss.portcullis.median / 1024 <= goals.idleRssMiB)} |`,
  ];
}

function runRows(runs) {
  return runs.map((run) => {
    const l = run.load;
    const usage = (own, core) => `${fixed(own, 0)} % of ${fixed(core, 0)} %`;
    return `| ${run.round} | ${run.kind} | ${int(l.requestsPerSecond)} | ${fixed(run.serverCpuMicrosPerRequest, 1)} | ${fixed(l.latencyAvgMs, 2)} | ${fixed(l.latencyP99Ms, 0)} | ${l.errors} / ${l.timeouts} / ${l.non2xx} | ${usage(run.serverCpuPercent, run.serverCoreBusyPercent)} | ${usage(run.loadgenCpuPercent, run.loadgenCoreBusyPercent)} | ${mib(run.memory.idle.rss)} → ${mib(run.memory.afterLoad.rss)} |`;
  });
}

export function renderMarkdown({ machine, settings, summary, goals, runs, warnings }) {
  const lines = [
    `### Benchmark run of ${machine.date}`,
    '',
    `- Commit ${machine.revision.commit}${machine.revision.dirty ? ' with uncommitted changes' : ''}; Node ${machine.node}, ${machine.cpuModel} (${machine.onlineCpus} CPUs online), Linux ${machine.kernel}; load average at start ${machine.loadavgStart}, at end ${machine.loadavgEnd}`,
    `- Servers pinned to CPU ${settings.serverCpu} (\`taskset -c ${settings.serverCpu}\`), autocannon ${machine.autocannon} in the bench process pinned to CPU ${settings.loadgenCpu}; Fastify ${machine.fastify}`,
    `- /healthz: ${settings.connections} connections, no pipelining, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured per run, ${settings.rounds} rounds alternating bare → Portcullis, each run on a freshly started server (Portcullis: fresh SQLite DB, NODE_ENV=production, LOG_LEVEL=warn)`,
    `- Idle RSS: VmRSS ${settings.idleWaitSeconds} s after a handful of requests, before the load; start→ready: ${settings.startRuns} runs each plus one discarded warm-up start`,
    '',
    '| Measure | Portcullis | Bare Fastify | Goal | Result |',
    '|---|--:|--:|---|---|',
    ...goalRows(summary, goals),
    '',
    '¹ bare Fastify: spawn → first /healthz 200, median of its throughput runs (reference only).',
    '',
    '| Round | Server | req/s | server CPU µs/req | avg ms | p99 ms | errors / timeouts / non-2xx | server CPU (of its core busy) | load generator CPU (of its core busy) | RSS idle → after load |',
    '|--:|---|--:|--:|--:|--:|--:|--:|--:|---|',
    ...runRows(runs),
    '',
    'CPU columns: the process\'s own CPU time over the measured window, then how busy its core was in all (from /proc/stat); the difference is other work on that core.',
  ];
  if (warnings.length > 0) lines.push('', 'Warnings:', ...warnings.map((w) => `- ${w}`));
  return lines.join('\n') + '\n';
}
