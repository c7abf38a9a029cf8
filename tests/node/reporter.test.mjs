// wasmexport::set_trap_reporter under Node's node:wasi: the `reporter` guest hands every
// `wasmexport:` line to its `test.report` import before the trap, on a poisoned instance too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { module, reactor, wasmDir } from './wasi.mjs';

const guests = `${wasmDir}/wasm32-wasip1/release`;

function reporter() {
  const lines = [];
  const g = reactor(module(guests, 'reporter'), (self) => ({
    test: {
      report: (ptr, len) => {
        const bytes = new Uint8Array(self.exports.memory.buffer, ptr, len);
        lines.push(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      },
      report_traps: () => { throw new Error("the host's report failed"); },
    },
  }));
  g.lines = () => lines.splice(0);
  return g;
}

test('a panic and the call after it reach the reporter', () => {
  const g = reporter();
  assert.equal(g.exports.add(40, 2), 42);
  assert.deepEqual(g.lines(), []);
  assert.throws(() => g.exports.boom(7), WebAssembly.RuntimeError);
  const [panic, ...rest] = g.lines();
  assert.deepEqual(rest, []);
  assert.match(panic, /^wasmexport: panic in export "boom": boom with code 7 at /);
  assert.equal(g.stderr(), `${panic}\n`);
  assert.throws(() => g.exports.add(1, 2), WebAssembly.RuntimeError);
  const [poisoned, ...more] = g.lines();
  assert.deepEqual(more, []);
  assert.match(poisoned, /^wasmexport: module poisoned by an earlier panic: export "add" cannot run/);
});

test('a deadlock reaches the reporter', () => {
  const g = reporter();
  assert.throws(() => g.exports.stuck(), WebAssembly.RuntimeError);
  const lines = g.lines();
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^wasmexport: all tasks are asleep - deadlock! export "stuck"/);
});

test('a reporter that panics is not run again for its own panic', () => {
  const g = reporter();
  g.exports.reporter_fails(1);
  assert.throws(() => g.exports.stuck(), WebAssembly.RuntimeError);
  const lines = g.lines();
  assert.equal(lines.length, 1);
  assert.match(lines[0], /deadlock/);
  assert.match(g.stderr(), /wasmexport: panic in export "stuck": the reporter failed/);
});

test('a reporter whose import throws just throws', () => {
  const g = reporter();
  g.exports.reporter_fails(2);
  assert.throws(() => g.exports.boom(5), /the host's report failed/);
  assert.match(g.stderr(), /boom with code 5/);
  assert.throws(() => g.exports.add(1, 2), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /module poisoned by an earlier panic: export "add" cannot run/);
  assert.deepEqual(g.lines(), []);
});
