// Initialization under node:wasi with the `lifecycle` guest: the user's panic hooks are kept
// behind the runtime's, and hooks run once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { module, reactor, wasmDir } from './wasi.mjs';

const guests = `${wasmDir}/wasm32-wasip1/release`;

test('a constructor\'s panic hook runs after the runtime\'s, an init hook\'s chains', () => {
  const g = reactor(module(guests, 'lifecycle'));
  assert.equal(g.exports.constructor_runs(), 1);
  assert.equal(g.exports.hook_runs(), 11111111111n);
  assert.throws(() => g.exports.boom(), WebAssembly.RuntimeError);
  const lines = g.stderr().split('\n');
  assert.equal(lines[0], "init hook's hook: boom");
  assert.match(lines[1], /^wasmexport: panic in export "boom": boom at /);
  assert.equal(lines[2], "constructor's hook: boom");
  assert.equal(lines.length, 4, g.stderr());
  assert.throws(() => g.exports.hook_runs(), WebAssembly.RuntimeError);
});
