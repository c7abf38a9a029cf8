// tests/unknown/guest (wasm32-unknown-unknown) under Node's plain WebAssembly.instantiate,
// through the JavaScript host library with no WASI: `cargo xtask test` builds the guest and
// runs `node --test tests/unknown/unknown.test.mjs` (WASMEXPORT_UNKNOWN_WASM: the module).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGuest } from './host.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wasm =
  process.env.WASMEXPORT_UNKNOWN_WASM ??
  path.join(here, '../../target/unknown/wasm32-unknown-unknown/release/unknown_guest.wasm');
const bytes = fs.readFileSync(wasm);
const limit = { timeout: 30_000 };
const after = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('the module needs no WASI: its imports are the guest\'s own', limit, () => {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => `${i.module}.${i.name}`);
  assert.deepEqual(imports.sort(), [
    'host.config',
    'host.now_ns',
    'host.report',
    'host.start',
    'host.visit',
    'wasmexport.[task-return]fetch_then_sleep',
  ]);
});

test('plain and async exports, tasks, the init hook and re-entry', limit, async () => {
  const { host, lines } = await startGuest(bytes);
  assert.equal(host.exports.inits(), 1);
  assert.equal(host.exports.add(2, 3), 5);
  assert.equal(host.exports.sum_tasks(10), 45n);
  host.exports.spawn_yielder();
  assert.equal(host.exports.tasks(), 2);
  host.exports.settle();
  assert.equal(host.exports.tasks(), 1);
  assert.equal(host.exports.root(5), 111);
  assert.deepEqual(lines, []);
});

test('a pending export is a Promise: a host operation, then a timer on the host clock', limit, async () => {
  const { host, lines } = await startGuest(bytes);
  const t0 = performance.now();
  const result = host.exports.fetch_then_sleep(41, 30);
  assert.ok(result instanceof Promise);
  assert.equal(host.pending, 1);
  assert.equal(await result, 42, 'the value plus one, after at least 30 ms on the host clock');
  assert.ok(performance.now() - t0 >= 30);
  assert.equal(host.pending, 0);
  assert.deepEqual(lines, []);
});

test('background timers fire through the library\'s drives', limit, async () => {
  const { host } = await startGuest(bytes);
  host.exports.start_ticker(5, 3);
  assert.ok(host.drive() > 0);
  for (let i = 0; i < 200 && host.exports.ticks() < 3; i++) await after(5);
  assert.equal(host.exports.ticks(), 3);
});

test('a panic traps, reaches the reporter and kills the instance', limit, async () => {
  const { host, lines } = await startGuest(bytes);
  assert.throws(() => host.exports.boom(7), WebAssembly.RuntimeError);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^wasmexport: panic in export "boom": boom 7/);
  assert.ok(host.dead);
  // The library refuses calls into a dead instance; the guest itself refuses them too.
  assert.throws(() => host.instance.exports.add(1, 2), WebAssembly.RuntimeError);
  assert.match(lines[1], /^wasmexport: module poisoned .*"add"/);
});

test('a sleep without a clock traps saying to set one; with one, a blocking sleep names the way out', limit, async () => {
  const bare = await startGuest(bytes, { clock: false });
  assert.throws(() => bare.host.exports.nap(5), WebAssembly.RuntimeError);
  assert.equal(bare.lines.length, 1);
  assert.match(bare.lines[0], /^wasmexport: timers need a clock.*wasmexport::time::set_clock/);
  const timed = await startGuest(bytes);
  assert.throws(() => timed.host.exports.nap(5), WebAssembly.RuntimeError);
  assert.match(timed.lines[0], /^wasmexport: export "nap" waits for a timer.*wasmexport::drive\(\).*#\[wasmexport\(pending\)\]/);
});
