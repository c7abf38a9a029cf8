// The filters alone, without Envoy: each module under Node's V8 with a stub proxy-wasm host,
// driven through the callbacks Envoy makes per request, so that only the filter's own work is
// timed (its logic, which both share, and the glue: the SDK's or wasmexport-proxy's).
//
//   node guests.mjs ours=auth_filter.wasm sdk=sdk_auth_filter.wasm
//
// prints a Markdown table (ns per request, CPU and wall time, per path, ours over the SDK's)
// and the verdict on the goal; `cargo xtask bench` appends it to target/bench/envoy.md. The
// two modules take turns every 256 requests, each turn timed on its own, and the figures are
// medians over the turns (see `round`): the same module against itself gives 1.00x within
// 0.01 in a run, within 0.03 from one run to the next.
// GUESTS_MS (a round's time per path and module, 150 ms) and GUESTS_ROUNDS (11) set the run's
// size; GUESTS_COUNT=1 prints the host calls per request instead.
//
// Per request, as Envoy 1.40 does for a filter that exports every callback (a module that
// lacks one is not called for it): proxy_on_context_create, proxy_on_request_headers, for a
// callout proxy_on_http_call_response (the auth service's headers read through
// proxy_get_header_map_*), then, once the request went on or was answered,
// proxy_on_response_headers and proxy_on_response_body (Envoy's `ok\n`, or the filter's own
// reply: Envoy 1.40 passes a filter's local reply through its response callbacks, seen with a
// logging copy of the SDK's filter), proxy_on_log, proxy_on_done and proxy_on_delete. Requests come in batches of 16 in
// flight (the wrk bench's connections): every batch's headers, then every callout's answer,
// then every ending. Ticks come as Envoy sends them, only while a root has a tick period. Each
// request's outcome is checked (the header set, the token removed, the 403, the stream
// continued), so a stub that breaks a filter stops the run instead of giving a figure.
// host.mjs is the stub host, scenario.mjs the paths, the auth service's answers and the checks.

import { Host } from './host.mjs';
import { BATCH, CALLBACKS, PATHS, PRIME } from './scenario.mjs';

// A run long enough that the clock's grain (CPU time is counted in ticks) is lost in it.
const RUN_MS = Number(process.env.GUESTS_MS ?? 150);
/** Requests per turn: long enough that timing it costs nothing to speak of. */
const CHUNK = 256;
const ROUNDS = Number(process.env.GUESTS_ROUNDS ?? 11);
const COUNT = Boolean(process.env.GUESTS_COUNT);

/**
 * One round of path `p`: `chunks` chunks of CHUNK requests per module, the modules taking
 * turns (the order flipped every chunk), each chunk timed on its own. Returns each module's
 * ns per request in each chunk, CPU and wall.
 *
 * The figures are medians over chunks, not sums: a collection of the stub's garbage or the
 * scheduler taking the CPU lands in one chunk at random and makes it several times as long,
 * and a round's sum is ruled by a few such chunks (the same module against itself then
 * differs by up to 2.5x between rounds; the medians of the chunks by under 2 %).
 */
function round(p, chunks) {
  const ns = guests.map(() => ({ cpu: [], wall: [] }));
  for (let c = 0; c < chunks; c += 1) {
    for (let k = 0; k < guests.length; k += 1) {
      const i = c % 2 ? guests.length - 1 - k : k;
      const wall = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      guests[i].run(p, CHUNK);
      const used = process.cpuUsage(cpu);
      ns[i].wall.push(Number(process.hrtime.bigint() - wall) / CHUNK);
      ns[i].cpu.push(((used.user + used.system) * 1000) / CHUNK);
    }
  }
  return Object.fromEntries(guests.map((g, i) => [g.name, ns[i]]));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const files = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
if (!files.ours || !files.sdk) throw new Error('usage: node guests.mjs ours=<wasm> sdk=<wasm>');
const guests = [
  await new Host('ours', { count: COUNT }).load(files.ours),
  await new Host('sdk', { count: COUNT }).load(files.sdk),
];

for (const g of guests) g.run(PRIME, BATCH);
if (COUNT) {
  // The host calls each filter makes per request, by path, instead of timing.
  for (const p of PATHS) {
    for (const g of guests) {
      g.counts = {};
      g.run(p, BATCH * 4);
      const calls = Object.entries(g.counts).map(([n, c]) => `${n.replace(/^proxy_/, '')} ${c / (BATCH * 4)}`);
      console.log(`${p.name}, ${g.name}: ${calls.join(', ')}`);
    }
  }
  process.exit(0);
}
// Warm-up (V8's tiers, the first allocations), which also measures how many chunks make a
// round of about RUN_MS per module.
for (const p of PATHS) {
  round(p, 16);
  const { ours, sdk } = round(p, 16);
  p.chunks = Math.max(1, Math.round((RUN_MS * 1e6) / ((median(ours.wall) + median(sdk.wall)) / 2) / CHUNK));
}
// Per path and round: each module's median ns per request, and the median of the ratios of
// the chunks run side by side (ours over the SDK's).
const samples = Object.fromEntries(PATHS.map((p) => [p.name, { ours: [], sdk: [], ratio: [] }]));
for (let r = 0; r < ROUNDS; r += 1) {
  for (const p of PATHS) {
    const t = round(p, p.chunks);
    const s = samples[p.name];
    for (const g of guests) s[g.name].push({ cpu: median(t[g.name].cpu), wall: median(t[g.name].wall) });
    const ratio = (what) => median(t.ours[what].map((o, i) => o / t.sdk[what][i]));
    s.ratio.push({ cpu: ratio('cpu'), wall: ratio('wall') });
  }
}

const lines = [
  `The filters alone, without Envoy: each module under Node ${process.version}'s V8 with a stub ` +
    'proxy-wasm host, through the callbacks Envoy makes per request (16 in flight), ' +
    `${ROUNDS} rounds of about ${RUN_MS} ms per path and filter, taking turns every ${CHUNK} requests ` +
    `(${PATHS.map((p) => (p.chunks * CHUNK).toLocaleString('en')).join(', ')} requests per round); ns per request: ` +
    'the median over the chunks, the median of the rounds; ratio: the median of the ratios of the chunks ' +
    'run side by side, the median of the rounds (their range). CPU time is the goal\'s measure here: the filter\'s own cost ' +
    'in Envoy, where it runs on the worker thread between the network and the router.',
  '',
  '| path | SDK CPU | ours CPU | ours/SDK CPU | SDK wall | ours wall | ours/SDK wall |',
  '|---|---:|---:|---:|---:|---:|---:|',
];
const verdicts = [];
for (const p of PATHS) {
  const s = samples[p.name];
  const cell = (what) => {
    const ratios = s.ratio.map((r) => r[what]);
    const m = median(ratios);
    return { m, text: `${m.toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` };
  };
  const cpu = cell('cpu');
  const wall = cell('wall');
  const ns = (g, what) => `${median(s[g].map((x) => x[what])).toFixed(0)} ns`;
  lines.push(`| ${p.name} | ${ns('sdk', 'cpu')} | ${ns('ours', 'cpu')} | ${cpu.text} | ` +
    `${ns('sdk', 'wall')} | ${ns('ours', 'wall')} | ${wall.text} |`);
  verdicts.push({ path: p.name, ratio: cpu.m });
}
const worst = verdicts.reduce((a, b) => (b.ratio > a.ratio ? b : a));
// The noise of this measure: a module against itself, 1.00x within 0.01 in a run and 0.03
// from run to run; a ratio up to NOISE above 1 is a tie, not a loss.
const NOISE = 0.02;
const verdict = worst.ratio <= 1 ? '**met**' : worst.ratio <= 1 + NOISE ? '**a tie within the noise**' : '**not met**';
const callbacks = (g) => CALLBACKS.filter((c) => g.callbacks[c] !== null && c !== 'proxy_on_http_call_response').length;
lines.push('', `Callbacks per request: ours ${callbacks(guests[0])}, the SDK ${callbacks(guests[1])} (one more each ` +
  'with a callout); in Envoy each is a call from C++ into V8, dearer than the stub\'s. Ticks sent: ' +
  `${guests.map((g) => `${g.name} ${g.ticks}`).join(', ')} (Envoy ticks only a root with a tick period, which ` +
  'neither filter sets on these paths).', '',
  `Goal, from the filters' own cost: ${verdict}: ours costs ` +
  `${verdicts.map((v) => `${v.ratio.toFixed(2)}x`).join(', ')} the SDK's CPU per request on the paths above ` +
  `(highest: ${worst.path}, ${worst.ratio.toFixed(2)}x; a module against itself gives 1.00x within 0.01 in a ` +
  `run, 0.03 between runs). Throughput and p99 in Envoy follow from the filter's cost, the rest of a request ` +
  'being the same for both (the wrk table).');
process.stdout.write(lines.join('\n') + '\n');
