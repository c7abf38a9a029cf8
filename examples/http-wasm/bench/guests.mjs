// The guests alone, without Traefik: each module's handle_request + handle_response under
// Node's V8 with a stub http_handler host (the key header always present, every write
// dropped), so that only the guest's own work is timed: the logic, which the floor and the
// wasmexport guest share, and the glue, where they differ. Run by `cargo xtask bench`:
//   node guests.mjs name=path.wasm ...   prints one JSON line: { name: ns per request }
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const CALLS = 200_000;
const ROUNDS = 7;
const config = new TextEncoder().encode('{"keys":["bench:k-bench"],"burst":"1e12","perSecond":"0"}');
const key = new TextEncoder().encode('k-bench\0');
const KEY_COUNT_LEN = (1n << 32n) | BigInt(key.length);

async function load(path) {
  let memory;
  const bytes = () => new Uint8Array(memory.buffer);
  const host = {
    get_config(buf, limit) {
      if (config.length <= limit) bytes().set(config, buf);
      return config.length;
    },
    get_header_values(kind, name, nameLen, buf, limit) {
      if (key.length <= limit) bytes().set(key, buf);
      return KEY_COUNT_LEN;
    },
    set_header_value() {},
    add_header_value() {},
    remove_header() {},
    set_status_code() {},
    write_body() {},
    log() {},
    log_enabled() { return 0; },
    enable_features(f) { return f; },
  };
  const wasi = new WASI({ version: 'preview1', returnOnExit: true });
  const module = await WebAssembly.compile(readFileSync(path));
  // node:wasi's clock costs about a microsecond a reading, more than the guest's whole
  // request: a stub clock (1 ms per reading, as in Traefik) keeps it out of the figure.
  let ms = 1e9; // 1e15 ns: exact in a double
  const clock_time_get = (id, precision, out) => {
    ms += 1;
    const ns = ms * 1e6;
    const view = new DataView(memory.buffer);
    view.setUint32(out, ns % 4294967296, true);
    view.setUint32(out + 4, Math.floor(ns / 4294967296), true);
    return 0;
  };
  const wasiImport = { ...wasi.wasiImport, clock_time_get };
  const imports = { wasi_snapshot_preview1: wasiImport, http_handler: {} };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === 'http_handler') {
      imports.http_handler[imp.name] = host[imp.name] ?? (() => { throw new Error(`stub lacks ${imp.name}`); });
    }
  }
  const instance = await WebAssembly.instantiate(module, imports);
  memory = instance.exports.memory;
  wasi.initialize(instance);
  return instance.exports;
}

function time(exports) {
  const { handle_request: request, handle_response: response } = exports;
  // CPU time, not wall time: others' processes on the machine then count less.
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i += 1) {
    if (request() !== 1n) throw new Error('the guest refused the bench request');
    response(0, 0);
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / CALLS;
}

const guests = [];
for (const arg of process.argv.slice(2)) {
  const [name, path] = arg.split('=');
  guests.push({ name, exports: await load(path), ns: [] });
}
for (const g of guests) time(g.exports); // warm-up: tier-up, first allocations
for (let r = 0; r < ROUNDS; r += 1) {
  for (const g of guests) g.ns.push(time(g.exports));
}
const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
console.log(JSON.stringify(Object.fromEntries(guests.map((g) => [g.name, median(g.ns)]))));
