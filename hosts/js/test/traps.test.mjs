// A trap rejects every pending call and kills the instance; a pending call nothing can wake
// traps as a deadlock that names the export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { start } from './guest.mjs';

const limit = { timeout: 30_000 }; // a hung test fails instead of holding up the run

/// The guest with a `value` import whose operations the test completes by hand.
async function manual() {
  const waiting = new Map();
  const host = await start({
    asyncImports: { host: { value: (x) => new Promise((resolve) => waiting.set(x, resolve)) } },
  });
  return { host, waiting };
}

test('a panic rejects every pending call and later calls throw', limit, async () => {
  const { host, waiting } = await manual();
  const traps = [];
  const calls = [1, 2, 3].map((x) => host.exports.panic_on_13(x).catch((e) => traps.push(e)));
  const other = host.exports.value_plus_one(4).catch((e) => traps.push(e));
  waiting.get(1)(1);
  assert.equal(await calls[0], 1);
  waiting.get(2)(13); // the panic: call 2 traps, and calls 3 and value_plus_one(4) with it
  await Promise.all([...calls, other]);
  assert.equal(traps.length, 3);
  for (const e of traps) {
    assert.ok(e instanceof WebAssembly.RuntimeError, `${e}`);
    assert.equal(e, traps[0], 'every pending call is rejected with the trap');
  }
  assert.equal(host.dead, traps[0]);
  assert.equal(host.pending, 0);
  assert.match(host.stderr(), /the host said 13/);
  assert.throws(() => host.exports.add(1, 2), /trapped earlier and is dead/);
  await assert.rejects(host.exports.ready(1), /trapped earlier and is dead/);
  assert.throws(() => host.drive(), /trapped earlier and is dead/);
  // Completing an operation of the dead instance changes nothing.
  waiting.get(3)(3);
  waiting.get(4)(4);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(host.dead, traps[0]);
});

test('a pending call nothing can wake traps with the deadlock line naming the export', limit, async () => {
  const trapped = [];
  const { host } = await manual();
  host.exports.value_plus_one(1).catch((e) => trapped.push(e)); // pending, then rejected too
  await assert.rejects(host.exports.stuck(1), WebAssembly.RuntimeError);
  assert.match(host.stderr(), /wasmexport: all tasks are asleep - deadlock!.*"stuck"/);
  await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(trapped.length, 1);
  assert.ok(host.dead);
});

test('a call that becomes unwakeable once the host completes it traps then', limit, async () => {
  const { host, waiting } = await manual();
  const call = host.exports.stuck_after_value(7);
  assert.equal(host.pending, 1);
  waiting.get(7)(7);
  await assert.rejects(call, WebAssembly.RuntimeError);
  assert.match(host.stderr(), /wasmexport: all tasks are asleep - deadlock!.*"stuck_after_value"/);
  assert.ok(host.dead);
});
