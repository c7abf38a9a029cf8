// The request filter plugin under Node's node:wasi: the same imports as the wasmtime host
// (host.config, host.lookup through the plugin's own cache, host.log). The plugin's
// `on_request(request: &str)`, `cache_get(client: &str)` and imports taking `&str` each see a
// string as two i32s, pointer then length: the host writes the request's UTF-8 bytes into a
// buffer from the plugin's `alloc` export and passes its pointer and length.
//
//   node examples/plugin/node-host.mjs target/wasm/wasm32-wasip1/release/plugin.wasm
import { WASI } from 'node:wasi';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TIERS = { blocked: 0, standard: 1, premium: 2 };
const DECISIONS = ['Allow', 'Deny', 'RateLimited'];

export function parseDirectory(text) {
  const directory = new Map();
  for (const line of text.split('\n')) {
    const words = line.split('#')[0].trim().split(/\s+/).filter(Boolean);
    if (words.length === 2 && words[1] in TIERS) directory.set(words[0], TIERS[words[1]]);
  }
  return directory;
}

export function loadPlugin(wasmPath, config, directory) {
  const wasi = new WASI({ version: 'preview1', returnOnExit: true });
  const state = { logs: [], cacheHits: 0, cacheMisses: 0 };
  let exports;
  const bytes = (ptr, len) => new Uint8Array(exports.memory.buffer, ptr, len);
  const text = (ptr, len) => new TextDecoder().decode(bytes(ptr, len));
  const host = {
    log: (level, ptr, len) => { state.logs.push([level, text(ptr, len)]); },
    config: (ptr, cap) => {
      const data = new TextEncoder().encode(config);
      bytes(ptr, Math.min(cap, data.length)).set(data.subarray(0, cap));
      return data.length;
    },
    // Re-entrant: asks the plugin's own cache first, and fills it on a miss.
    lookup: (ptr, len) => {
      const cached = exports.cache_get(ptr, len);
      if (cached >= 0n) { state.cacheHits++; return Number(cached); }
      const tier = directory.get(text(ptr, len)) ?? TIERS.standard;
      exports.cache_put(ptr, len, tier);
      state.cacheMisses++;
      return tier;
    },
  };
  const mod = new WebAssembly.Module(fs.readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(mod, { wasi_snapshot_preview1: wasi.wasiImport, host });
  exports = instance.exports;
  wasi.initialize(instance);
  return {
    state,
    refills: () => exports.refills(),
    onRequest(line) {
      const data = new TextEncoder().encode(line);
      const ptr = exports.alloc(data.length);
      bytes(ptr, data.length).set(data);
      const packed = exports.on_request(ptr, data.length);
      exports.dealloc(ptr, data.length);
      const rewriteLen = Number(BigInt.asUintN(64, packed) >> 32n);
      const decision = DECISIONS[Number(packed & 0xffffffffn)];
      const rewritten = rewriteLen ? text(exports.rewrite_ptr(), rewriteLen) : null;
      return { decision, rewritten };
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const read = (f) => fs.readFileSync(path.join(here, f), 'utf8');
  const plugin = loadPlugin(process.argv[2], read('plugin.conf'), parseDirectory(read('clients.tsv')));
  const counts = {};
  for (const line of read('requests.log').split('\n').filter(Boolean)) {
    const { decision, rewritten } = plugin.onRequest(line);
    counts[decision] = (counts[decision] ?? 0) + 1;
    console.log(`${line.padEnd(32)} ${decision}${rewritten ? ` -> ${rewritten}` : ''}`);
  }
  console.log(counts, `cache hits ${plugin.state.cacheHits}, misses ${plugin.state.cacheMisses}`);
}
