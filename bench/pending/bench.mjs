// The pending round trip under V8, for `cargo xtask bench`: the host calls an async export, the
// guest awaits one host async operation (a Promise that is already resolved), the host completes
// it, and the result comes back; one after another and 1,000 in flight. Three ways:
//   ours:         a #[wasmexport(pending)] export through hosts/js (wasm32-wasip1, node:wasi)
//   wasm-bindgen: a #[wasm_bindgen] async fn awaiting a JsFuture (wasm32-unknown-unknown)
//   floor:        a plain JS async function awaiting the same Promise
//
//   node --expose-gc bench/pending/bench.mjs OURS.wasm WASM_BINDGEN_NODEJS_GLUE.js
//
// Prints a Markdown table of ns per round trip (medians of 21 interleaved samples of about
// 50 ms each, ± half the interquartile range) with the ratios and the goals.
import { WASI } from 'node:wasi';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { instantiate } from '../../hosts/js/index.mjs';

const [oursPath, wbPath] = process.argv.slice(2);
const SAMPLES = 21;
const SAMPLE_NS = 50e6;
const BATCH = 1_000;

const op = (x) => Promise.resolve(x);
globalThis.pendingBench = { op };

const wasi = new WASI({ version: 'preview1', returnOnExit: true });
const ours = await instantiate(fs.readFileSync(oursPath), { wasi, asyncImports: { host: { op } } });
const wb = createRequire(import.meta.url)(wbPath);
async function floor(x) {
  return (await op(x)) + 1;
}
const ways = { ours: ours.exports.round_trip, 'wasm-bindgen': wb.round_trip, floor };
for (const [name, f] of Object.entries(ways)) {
  const got = await f(41);
  if (got !== 42) throw new Error(`${name}: round_trip(41) gave ${got}`);
}

const modes = {
  async sequential(f, n) {
    for (let i = 0; i < n; i++) await f(i);
  },
  async concurrent(f, n) {
    const calls = new Array(BATCH);
    for (let done = 0; done < n; done += BATCH) {
      for (let i = 0; i < BATCH; i++) calls[i] = f(i);
      await Promise.all(calls);
    }
  },
};

const now = () => process.hrtime.bigint();

/// How many round trips of `run` last about SAMPLE_NS; warms up.
async function calibrate(run) {
  for (let n = BATCH; ; n *= 2) {
    const t = now();
    await run(n);
    const took = Number(now() - t);
    if (took >= SAMPLE_NS / 4) return Math.max(BATCH, Math.round((n * SAMPLE_NS) / took / BATCH) * BATCH);
  }
}

const results = {};
for (const [mode, loop] of Object.entries(modes)) {
  const runs = Object.fromEntries(Object.entries(ways).map(([w, f]) => [w, (n) => loop(f, n)]));
  const n = {};
  for (const [w, run] of Object.entries(runs)) n[w] = await calibrate(run);
  const per = Object.fromEntries(Object.keys(runs).map((w) => [w, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (const [w, run] of Object.entries(runs)) {
      globalThis.gc?.();
      const t = now();
      await run(n[w]);
      per[w].push(Number(now() - t) / n[w]);
    }
  }
  results[mode] = {};
  for (const [w, p] of Object.entries(per)) {
    p.sort((a, b) => a - b);
    const q = (f) => p[Math.min(p.length - 1, Math.floor(f * p.length))];
    results[mode][w] = { ns: q(0.5), spread: ((q(0.75) - q(0.25)) / 2 / q(0.5)) * 100 };
  }
}
if (ours.pending !== 0 || ours.exports.add(2, 3) !== 5) throw new Error('ours: calls left pending');

const fmt = ({ ns, spread }) => `${ns.toFixed(0)} ns (±${spread.toFixed(1)}%)`;
const ratio = (a, b) => `${(a.ns / b.ns).toFixed(2)}x`;
const lines = [
  '| pending round trip, V8 | ours (`#[wasmexport(pending)]`, hosts/js) | wasm-bindgen (`async fn`, `JsFuture`) | JS floor (`async` fn) | ours / wasm-bindgen | ours / floor |',
  '|---|---|---|---|---|---|',
];
const goals = [];
for (const [mode, r] of Object.entries(results)) {
  const what = mode === 'sequential' ? 'one after another' : `${BATCH.toLocaleString('en')} in flight`;
  const [o, w, f] = [r.ours, r['wasm-bindgen'], r.floor];
  lines.push(`| ${what} | ${fmt(o)} | ${fmt(w)} | ${fmt(f)} | ${ratio(o, w)} | ${ratio(o, f)} |`);
  const holds = (x, limit) => (x <= limit ? 'holds' : 'missed');
  goals.push(
    `- ${what}: at most 0.25x wasm-bindgen's time: ${holds(o.ns / w.ns, 0.25)} (${ratio(o, w)}); ` +
      `at most 3x the JS floor: ${holds(o.ns / f.ns, 3)} (${ratio(o, f)})`,
  );
}
console.log(
  [
    ...lines,
    '',
    'Goals (ratios from this run):',
    ...goals,
    '',
    `Node ${process.version} (V8 ${process.versions.v8}). Each round trip awaits a Promise that is already resolved; ` +
      `medians of ${SAMPLES} interleaved samples, ± half the interquartile range.`,
  ].join('\n'),
);
