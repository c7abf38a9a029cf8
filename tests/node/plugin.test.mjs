// The example plugin under Node's node:wasi with the small JS host: the decisions on the bundled
// log follow plugin.conf and clients.tsv, as under wasmtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmDir } from './wasi.mjs';
import { loadPlugin, parseDirectory } from '../../examples/plugin/node-host.mjs';

const data = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../examples/plugin');
const read = (f) => fs.readFileSync(path.join(data, f), 'utf8');

// plugin.conf applied by hand; no refill happens while the log runs (2 s interval).
function expected(lines, directory) {
  const buckets = new Map();
  return lines.map((line) => {
    const words = line.split(' ');
    if (words.length !== 3) return ['Deny', null];
    const [method, p, client] = words;
    if (method === 'TRACE' || p.startsWith('/admin') || p.startsWith('/.git')) return ['Deny', null];
    const tier = directory.get(client) ?? 1;
    if (tier === 0) return ['Deny', null];
    const rewritten = p.startsWith('/v1/') ? `/api/${p.slice(4)}` : null;
    if (tier === 2) return ['Allow', rewritten];
    const tokens = buckets.get(client) ?? 20;
    if (tokens === 0) return ['RateLimited', null];
    buckets.set(client, tokens - 1);
    return ['Allow', rewritten];
  });
}

test('the plugin decides the bundled log by its rules under node:wasi', () => {
  const directory = parseDirectory(read('clients.tsv'));
  const plugin = loadPlugin(`${wasmDir}/wasm32-wasip1/release/plugin.wasm`, read('plugin.conf'), directory);
  const lines = read('requests.log').split('\n').filter(Boolean);
  const got = lines.map((l) => { const o = plugin.onRequest(l); return [o.decision, o.rewritten]; });
  assert.deepEqual(got, expected(lines, directory));
  assert.equal(plugin.state.cacheMisses, 6);
  assert.ok(plugin.state.cacheHits > 200);
  assert.match(plugin.state.logs[0][1], /^configured: 1 denied methods, 2 denied paths/);
});
