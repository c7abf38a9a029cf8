// A command runs under wasi.start; its exports are re-entered from a JS import
// while _start runs, and trap clearly afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instantiate, module, wasmDir } from './wasi.mjs';

const commands = `${wasmDir}/wasm32-wasip1/release`;

function command() {
  return instantiate(module(commands, 'cmd'), (self) => ({
    test: { callback: (x) => self.exports.double_later(self.exports.add(x, 1)) },
  }));
}

test('wasi.start accepts the command: _start and no _initialize', () => {
  const names = WebAssembly.Module.exports(module(commands, 'cmd')).map((e) => e.name);
  assert.ok(names.includes('_start'));
  assert.ok(!names.includes('_initialize'));
  const g = command();
  assert.equal(g.wasi.start(g.instance), 0);
  assert.equal(g.stdout(), 'main: callback 42, task 5, init true\n');
});

test('exports trap after main returned, telling the user to build a reactor', () => {
  const g = command();
  g.wasi.start(g.instance);
  assert.throws(() => g.exports.add(1, 2), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /^wasmexport: export "add" called after the command's main returned: .*build a reactor/);
});

test('__main_void traps before main runs: only _start runs the constructors and main', () => {
  let called = false;
  const g = instantiate(module(commands, 'cmd'), () => ({
    test: { callback: (x) => { called = true; return x; } },
  }));
  // Node's WASI refuses WASI calls before wasi.start: writing the trap's line throws instead.
  assert.throws(() => g.exports.__main_void());
  assert.equal(called, false, 'main ran and called the host');
  assert.equal(g.stdout(), '');
});
