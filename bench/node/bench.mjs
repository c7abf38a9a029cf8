// The V8 side of `cargo xtask bench`: the same figures as the wasmtime benches, under Node, for
// the floor, wasmexport and Go in one run. `report` runs it as
//   node bench/node/bench.mjs '{"raw": PATH, "ours": PATH, "floor": PATH, "go_add": PATH, ...}'
// and reads one JSON object from stdout. A guest left out (or null) is left out of the figures.
//
// Run it with `node --expose-gc --no-warnings`. Times are medians of 11 samples (each a loop of
// calls or instantiations lasting about 20 ms, after a calibration run that warms up), with half
// the interquartile range as the spread; the JS loop's own cost is in every figure alike, so the
// ratios compare like with like.
import { WASI } from 'node:wasi';
import fs from 'node:fs';
import { wasiImports, importOnly } from './wasm.mjs';

const guests = JSON.parse(process.argv[2] ?? '{}');
const quick = process.argv.includes('--quick');
const SAMPLES = quick ? 3 : 11;
const SAMPLE_NS = quick ? 2e6 : 20e6;

const now = () => process.hrtime.bigint();

/// How many iterations of `run(n)` (which runs n iterations) last about SAMPLE_NS; warms up.
function calibrate(run) {
  for (let n = 1; ; n *= 4) {
    const t = now();
    run(n);
    const took = Number(now() - t);
    if (took >= SAMPLE_NS / 4 || n >= 1 << 30) return Math.max(1, Math.round((n * SAMPLE_NS) / Math.max(took, 1)));
  }
}

/// ns per iteration of each `runs[id](n)`, measured side by side: the samples of the ids take
/// turns (each after a full GC), so that a change in the machine's load hits them alike and
/// their ratios hold better than their times. An entry that is not a function is passed through.
function side(runs) {
  const ids = Object.keys(runs).filter((id) => typeof runs[id] === 'function');
  const n = Object.fromEntries(ids.map((id) => [id, calibrate(runs[id])]));
  const per = Object.fromEntries(ids.map((id) => [id, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (const id of ids) {
      global.gc?.();
      const t = now();
      runs[id](n[id]);
      per[id].push(Number(now() - t) / n[id]);
    }
  }
  const out = { ...runs };
  for (const id of ids) {
    const p = per[id].sort((a, b) => a - b);
    const q = (f) => p[Math.min(p.length - 1, Math.floor(f * p.length))];
    out[id] = { ns: q(0.5), spread: ((q(0.75) - q(0.25)) / 2 / q(0.5)) * 100 };
  }
  return out;
}

const times = (f) => (n) => {
  for (let i = 0; i < n; i++) f();
};

/// `n` calls of export `f` in a loop of its own: compiled apart (a source text of its own, so
/// that V8's compilation cache does not hand every loop the same code and feedback), so the
/// call site sees only `f` and V8 can inline its JS-to-wasm wrapper, as in a host's hot loop.
let loops = 0;
function callLoop(f, arity) {
  const call = arity === 2 ? 'acc = f(acc, 1)' : 'acc = f(i & 0xffff)';
  loops += 1;
  // eslint-disable-next-line no-new-func
  return new Function('f', `return (n) => { let acc = 0; for (let i = 0; i < n; i++) ${call}; return acc; }; // loop ${loops}`)(f);
}

const modules = {};
for (const [id, file] of Object.entries(guests)) {
  if (!file) continue;
  const bytes = fs.readFileSync(file);
  modules[id] = { bytes, module: new WebAssembly.Module(bytes) };
}

/// Node's WASI for one instance: stdout and stderr go nowhere (a Go guest writes nothing, ours
/// writes only on a trap).
function newWasi() {
  return new WASI({ version: 'preview1', returnOnExit: true, stdout: 2, stderr: 2 });
}

/// Every import a guest declares: WASI's from `wasi` (when given), the rest a JS stub that
/// returns 0 (the floor's `test.reenter`, never called here).
function importsFor(module, wasi) {
  const all = {};
  for (const { module: m, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== 'function') throw new Error(`unexpected ${kind} import ${m}.${name}`);
    all[m] ??= {};
    all[m][name] = wasi && m === 'wasi_snapshot_preview1' ? wasi.wasiImport[name] : () => 0;
  }
  return all;
}

/// A new instance, initialized the way a host does it: `wasi.initialize` under node:wasi,
/// `_initialize()` by hand with JS stubs.
function instantiate(module, withWasi) {
  if (withWasi) {
    const wasi = newWasi();
    const instance = new WebAssembly.Instance(module, importsFor(module, wasi));
    wasi.initialize(instance);
    return instance;
  }
  const instance = new WebAssembly.Instance(module, importsFor(module, null));
  instance.exports._initialize?.();
  return instance;
}

/// A loop of calls of `name(...args)` on an initialized instance; checks the result first.
function perCall(id, name, args, expect) {
  const m = modules[id];
  if (!m) return null;
  const f = instantiate(m.module, true).exports[name];
  const got = f(...args);
  if (got !== expect) throw new Error(`${id}.${name}(${args}) returned ${got}, not ${expect}`);
  return callLoop(f, args.length);
}

/// A loop of instantiations, or why the guest does not start.
function perInstance(id, withWasi) {
  const m = modules[id];
  if (!m) return null;
  try {
    instantiate(m.module, withWasi);
  } catch (e) {
    return { error: String(e) }; // Go's runtime does not start on stubs that return 0
  }
  return times(() => instantiate(m.module, withWasi));
}

const out = { node: process.version, v8: process.versions.v8 };
out.add = side({ raw: perCall('raw', 'add', [1, 2], 3), ours: perCall('ours', 'add', [1, 2], 3), go: perCall('go_add', 'add', [1, 2], 3) });
out.roundtrip = side({
  floor: perCall('floor', 'roundtrip', [41], 42),
  ours: perCall('ours', 'roundtrip', [41], 42),
  go: perCall('go_tasks', 'roundtrip', [41], 42),
});
out.roundtrip_oneshot = side({ ours: perCall('ours', 'roundtrip_oneshot', [41], 42) });
out.instantiate_wasi = side({ raw: perInstance('raw', true), ours: perInstance('ours', true), go: perInstance('go_add', true) });
out.instantiate_stubs = side({ raw: perInstance('raw', false), ours: perInstance('ours', false), go: perInstance('go_add', false) });

// What each WASI import costs an instantiation: a module that imports that function alone,
// against a module that imports nothing, each with a new node:wasi (as every instance has).
out.imports = {};
const names = new Set();
for (const [id, m] of Object.entries(modules)) {
  out.imports[id] = WebAssembly.Module.imports(m.module).filter((i) => i.module === 'wasi_snapshot_preview1').map((i) => i.name);
  out.imports[id].forEach((n) => names.add(n));
}
const signatures = new Map();
for (const m of Object.values(modules)) {
  for (const [name, type] of wasiImports(m.bytes)) signatures.set(name, type);
}
const empty = new WebAssembly.Module(importOnly(null));
const bare = times(() => new WebAssembly.Instance(empty, { wasi_snapshot_preview1: newWasi().wasiImport }));
out.import_cost = {};
for (const name of [...names].sort()) {
  const module = new WebAssembly.Module(importOnly({ name, type: signatures.get(name) }));
  const stub = { wasi_snapshot_preview1: { [name]: () => 0 } };
  const t = side({
    base: bare,
    wasi: times(() => new WebAssembly.Instance(module, { wasi_snapshot_preview1: newWasi().wasiImport })),
    js: times(() => new WebAssembly.Instance(module, { ...stub, unused: newWasi().wasiImport })),
  });
  out.import_cost[name] = { wasi: t.wasi.ns - t.base.ns, stub: t.js.ns - t.base.ns };
}
process.stdout.write(JSON.stringify(out));
