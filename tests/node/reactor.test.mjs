// The reactor guests run unchanged under Node's node:wasi.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instantiate, module, reactor, wasmDir } from './wasi.mjs';

const guests = `${wasmDir}/wasm32-wasip1/release`;

function started(name, imports) {
  return reactor(module(guests, name), imports);
}

function reentry(self) {
  const call = (name) => (n) => self.exports[name](n);
  return {
    test: {
      reenter: call('recurse'),
      reenter_async: call('recurse_async'),
      call_inner: () => self.exports.inner_spawns(),
      call_nested_waker: () => self.exports.nested_wakes_outer(),
    },
  };
}

test('values cross at their edges', () => {
  const g = started('basic');
  assert.equal(g.exports.add(2, 40), 42);
  assert.equal(g.exports.add(0x7fffffff, 1), -0x80000000);
  assert.equal(g.exports.id_i64(-(2n ** 63n)), -(2n ** 63n));
  assert.equal(g.exports.id_u64(-1n), -1n); // u64::MAX as the i64 bit pattern JS sees
  assert.ok(Object.is(g.exports.id_f64(-0), -0));
  assert.ok(Number.isNaN(g.exports.id_f32(NaN)));
  assert.equal(g.exports.not(2), 0);
  assert.equal(g.exports.is_null(0), 1);
  assert.equal(g.exports['wasi:http/incoming-handler@0.2.0#handle'](4, 2), 42);
  assert.equal(g.exports.type(), 7);
});

test('init hooks ran once, in order, even after a second initialize call', () => {
  const g = started('basic');
  g.exports._initialize();
  assert.equal(g.exports.init_order(), 123n);
  assert.equal(g.exports.init_runs(), 3);
});

test('a call before _initialize does not run', () => {
  const g = instantiate(module(guests, 'basic'));
  // Node refuses every WASI call before wasi.initialize(), so the `wasmexport:` line cannot be
  // written here: the write to stderr on the way to the trap throws Node's own error instead.
  assert.throws(() => g.exports.add(1, 2), /wasi.start\(\) has not been called/);
  assert.equal(g.stderr(), '');
});

test('a panic traps and poisons the instance', () => {
  const g = started('basic');
  assert.throws(() => g.exports.boom(7), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /^wasmexport: panic in export "boom": boom with code 7 at /);
  assert.throws(() => g.exports.add(1, 2), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /module poisoned by an earlier panic: export "add" cannot run/);
});

test('async exports, background tasks and suspension between calls', () => {
  const g = started('exec', reentry);
  assert.equal(g.exports.async_add(40, 2), 42);
  assert.equal(g.exports.spawn_and_await(21), 42);
  assert.equal(g.exports.start_bumper(), 0);
  assert.equal(g.exports.counter(), 0);
  assert.ok(g.exports.yields_until_bump() >= 1);
  assert.equal(g.exports.counter(), 1);
  assert.equal(g.exports.channels(), 55);
  assert.equal(g.exports.polls_while_waiting(), 2);
});

test('timers block in poll_oneoff until due, and sleepers overlap', () => {
  const g = started('exec', reentry);
  let start = performance.now();
  g.exports.sleep_ms(20);
  assert.ok(performance.now() - start >= 19.5, 'returned early');
  start = performance.now();
  assert.equal(g.exports.two_sleepers(200), 3);
  const took = performance.now() - start;
  assert.ok(took >= 199 && took < 390, `two 200 ms sleepers took ${took} ms`);
  assert.equal(g.exports.timeouts(), 3);
});

test('deadlock traps with the export name', () => {
  const g = started('exec', reentry);
  assert.equal(g.exports.wait_for_background(), 42);
  assert.throws(() => g.exports.wait_forever(), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /^wasmexport: all tasks are asleep - deadlock! export "wait_forever" is waiting/);
});

test('re-entrant calls from JS imports, sync and async, 200 deep', () => {
  const g = started('exec', reentry);
  assert.equal(g.exports.recurse(200), 200);
  assert.equal(g.exports.recurse_async(200), 200);
  assert.equal(g.exports.outer(), 107);
  assert.equal(g.exports.outer_woken_from_nested(), 5);
  assert.equal(g.exports.tasks(), 1);
});

// Calls unwound without the runtime's code running poison the instance.
const POISONED = /^wasmexport: module poisoned: an earlier call did not return \(it trapped\); export "add" cannot run/m;

function aborter(self) {
  return {
    test: {
      fail: () => { throw new Error('the host function failed'); },
      reenter: (n) => self.exports.recurse(n),
      reenter_plain: (n) => self.exports.recurse_plain(n),
      reenter_fat: (n) => self.exports.recurse_fat(n),
      swallow_nested_trap: () => {
        assert.throws(() => self.exports.trap_now(), WebAssembly.RuntimeError);
        return 0;
      },
    },
  };
}

function assertPoisoned(g) {
  assert.throws(() => g.exports.add(1, 2), WebAssembly.RuntimeError);
  assert.match(g.stderr(), POISONED);
  assert.throws(() => g.exports.tasks(), WebAssembly.RuntimeError);
  // Also an export whose body needs a frame on the shadow stack: its check comes first.
  assert.throws(() => g.exports.framed(3), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /export "framed" cannot run; create a new instance$/m);
}

test('a host import that throws poisons the instance', () => {
  const g = started('abort', aborter);
  assert.equal(g.exports.add(1, 2), 3);
  assert.throws(() => g.exports.call_failing_plain(), /the host function failed/);
  assertPoisoned(g);
});

test('stack exhaustion poisons the instance', () => {
  const g = started('abort', aborter);
  assert.equal(g.exports.deep(100), 100);
  assert.throws(() => g.exports.deep(0xffffffff), RangeError);
  assertPoisoned(g);
});

test('re-entry through #[wasmimport] is allowed, through a plain import it poisons', () => {
  const g = started('abort', aborter);
  assert.equal(g.exports.recurse(50), 50);
  assert.throws(() => g.exports.recurse_plain(2), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /export "recurse_plain" cannot run; create a new instance \(if this call came from inside a host import, declare that import with #\[wasmimport\]/);
  assertPoisoned(g);
});

test('a nested trap that JS catches stops the outer call', () => {
  const g = started('abort', aborter);
  assert.throws(() => g.exports.call_swallowing(), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /^wasmexport: module poisoned: export "trap_now", called from inside a host import, did not return/);
  assertPoisoned(g);
});

test('a deadlock poisons the instance, and later calls say so', () => {
  const g = started('abort', aborter);
  assert.throws(() => g.exports.wait_forever(), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /^wasmexport: all tasks are asleep - deadlock! export "wait_forever" is waiting/);
  assert.throws(() => g.exports.add(1, 2), WebAssembly.RuntimeError);
  assert.match(g.stderr(), /^wasmexport: module poisoned by a deadlock in export "wait_forever": export "add" cannot run; create a new instance$/m);
});

// Each level of recurse_fat holds 16 KiB of the shadow stack (the linear-memory stack): it
// runs out after about 64 levels, long before Node's stack, and leaves the stack pointer
// below the start of memory.
test('shadow stack exhaustion poisons the instance', () => {
  const g = started('abort', aborter);
  assert.equal(g.exports.recurse_fat(10), 10);
  assert.throws(() => g.exports.recurse_fat(1000000), /memory access out of bounds/);
  assertPoisoned(g);
});
