// The Envoy benchmark: requests per second and p50/p99 latency under wrk, Envoy's CPU time per
// request, start-up time and memory, for Envoy with (a) no filter, (b) the auth filter on the
// proxy-wasm SDK, (c) the same filter on wasmexport-proxy, on two paths: pass-through
// (`/public`) and callout (every request awaits the auth service: the cache is off). Runs are
// interleaved (a, b, c, a, b, c, ...); the table has the medians. `cargo xtask bench` sets
// ENVOY_BIN, PROXY_WASM_FILTER, PROXY_WASM_SDK_FILTER and BENCH_OUT.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { ENVOY, FILTER, SDK_FILTER, cluster, listener, request, route, startEnvoy, wasmFilter } from './envoy.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CONNECTIONS = 16;
const TOKEN = 'Bearer bench:ok';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Envoy's CPU time so far (user + system), in seconds. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function rssMiB(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(line[1]) / 1024;
}

/** wrk's duration in microseconds from its text (`512.00us`, `1.20ms`, `2.00s`). */
function micros(text) {
  const [, n, unit] = /([\d.]+)(us|ms|s)/.exec(text);
  return Number(n) * { us: 1, ms: 1e3, s: 1e6 }[unit];
}

function wrk(url, seconds, headers = []) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
  for (const h of headers) args.push('-H', h);
  const out = execFileSync('wrk', [...args, url]).toString();
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors) throw new Error(`wrk got ${errors[1]} error answers from ${url}:\n${out}`);
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]),
    p50: micros(/ 50%\s+(\S+)/.exec(out)[1]),
    p99: micros(/ 99%\s+(\S+)/.exec(out)[1]),
  };
}

// The auth service: an Envoy of its own answering from its routes, so that the service is not
// what limits the callout path.
const authService = await startEnvoy({
  listeners: [listener('auth', [], [
    {
      match: { prefix: '/', headers: [{ name: 'authorization', string_match: { exact: TOKEN } }] },
      direct_response: { status: 200 },
      response_headers_to_add: [{ header: { key: 'x-user', value: 'bench' } }],
    },
    { match: { prefix: '/' }, direct_response: { status: 403 } },
  ])],
});

const variants = [
  { name: 'no filter', wasm: null },
  { name: 'SDK (proxy-wasm 0.2.5)', wasm: SDK_FILTER },
  { name: 'wasmexport-proxy', wasm: FILTER },
];
const paths = [
  { name: 'pass-through', listener: 'pass', path: '/public/x', headers: [] },
  { name: 'callout', listener: 'callout', path: '/api/x', headers: [`authorization: ${TOKEN}`] },
];

const STARTS = 3;
const started = [];
try {
  for (const v of variants) {
    const filters = (name, configuration) =>
      v.wasm ? [wasmFilter({ wasm: v.wasm, vmId: 'bench', name, configuration })] : [];
    v.config = {
      listeners: [
        listener('pass', filters('pass', 'ttl_ms=60000'), [route()]),
        listener('callout', filters('callout', 'ttl_ms=0'), [route()]),
      ],
      clusters: [cluster('auth', authService.ports.auth)],
    };
    v.startups = [];
  }
  // Start-up time: each variant started STARTS times, interleaved; the last ones stay up.
  for (let i = 0; i < STARTS; i++) {
    for (const v of variants) {
      v.envoy = await startEnvoy(v.config);
      v.startups.push(v.envoy.startupMs);
      if (i < STARTS - 1) await v.envoy.stop();
      else started.push(v.envoy);
    }
  }
  for (const v of variants) {
    v.startupMs = median(v.startups);
    v.rssStart = rssMiB(v.envoy.pid);
    v.runs = Object.fromEntries(paths.map((p) => [p.name, []]));
    for (const p of paths) {
      const r = await request(`http://127.0.0.1:${v.envoy.ports[p.listener]}${p.path}`, {
        headers: Object.fromEntries(p.headers.map((h) => h.split(': '))),
      });
      if (r.status !== 200) throw new Error(`${v.name}, ${p.name}: status ${r.status} ${r.body}`);
      wrk(`http://127.0.0.1:${v.envoy.ports[p.listener]}${p.path}`, 1, p.headers); // warm-up
    }
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of paths) {
      for (const v of variants) {
        const cpu = cpuSeconds(v.envoy.pid);
        const r = wrk(`http://127.0.0.1:${v.envoy.ports[p.listener]}${p.path}`, SECONDS, p.headers);
        r.cpuUs = ((cpuSeconds(v.envoy.pid) - cpu) / r.requests) * 1e6;
        v.runs[p.name].push(r);
        console.error(`bench: round ${round}/${ROUNDS} ${p.name} ${v.name}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(0)} us`);
      }
    }
  }
  for (const v of variants) v.rssEnd = rssMiB(v.envoy.pid);
} finally {
  for (const e of started) await e.stop();
  await authService.stop();
}

const size = (f) => (f ? `${(fs.statSync(f).size / 1024).toFixed(0)} KiB` : '-');
const lines = [
  `Envoy ${execFileSync(ENVOY, ['--version']).toString().match(/\/(\d+\.\d+\.\d+)\//)?.[1] ?? '?'}, ` +
    `one worker, V8; wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved runs of ${SECONDS} s per cell, medians.`,
  '',
  '| path | Envoy with | req/s | p50 | p99 | Envoy CPU per request |',
  '|---|---|---:|---:|---:|---:|',
];
const stats = {};
for (const p of paths) {
  for (const v of variants) {
    const runs = v.runs[p.name];
    const s = {
      rps: median(runs.map((r) => r.rps)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      cpuUs: median(runs.map((r) => r.cpuUs)),
    };
    stats[`${p.name}/${v.name}`] = s;
    lines.push(`| ${p.name} | ${v.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(0)} µs | ` +
      `${s.p99.toFixed(0)} µs | ${s.cpuUs.toFixed(1)} µs |`);
  }
}
// Each round ran ours right after the SDK's, so the ratio within a round is what the two
// saw under the same load; the goals are read from the median of those ratios, with the
// spread (lowest and highest ratio) beside it.
lines.push('', '| goal: wasmexport-proxy vs the SDK (median of the per-round ratios, range) | ' +
  'pass-through | callout |', '|---|---|---|');
const goal = (what, met) => {
  const cells = paths.map((p) => {
    const ours = variants[2].runs[p.name].map((r) => r[what]);
    const sdk = variants[1].runs[p.name].map((r) => r[what]);
    const ratios = ours.map((o, i) => o / sdk[i]);
    const m = median(ratios);
    const range = `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
    const verdict = met ? (met(m) ? ' met' : ' **not met**') : '';
    return `${m.toFixed(2)}x (${range})${verdict}`;
  });
  return cells.join(' | ');
};
lines.push(`| throughput >= the SDK's | ${goal('rps', (r) => r >= 1)} |`);
lines.push(`| p99 <= the SDK's | ${goal('p99', (r) => r <= 1)} |`);
lines.push(`| Envoy CPU per request (not a goal) | ${goal('cpuUs')} |`);
lines.push('', '| Envoy with | module | start-up (to ready, median of 3) | RSS after start | RSS after the runs |',
  '|---|---:|---:|---:|---:|');
for (const v of variants) {
  lines.push(`| ${v.name} | ${size(v.wasm)} | ${v.startupMs.toFixed(0)} ms | ${v.rssStart.toFixed(1)} MiB | ` +
    `${v.rssEnd.toFixed(1)} MiB |`);
}
const table = lines.join('\n') + '\n';
if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, table);
process.stdout.write(table);
