// Pending exports as Promises, and async JS imports as the guest's futures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REJECTED } from '../index.mjs';
import { after, call, fnv1a, start } from './guest.mjs';

const limit = { timeout: 30_000 }; // a hung test fails instead of holding up the run

test('a pending export resolves with its result, completed during the call or later', limit, async () => {
  const host = await start({ asyncImports: { host: { value: (x) => after(5, x * 10) } } });
  assert.equal(await host.exports.ready(21), 42);
  const later = host.exports.value_plus_one(4);
  assert.ok(later instanceof Promise);
  assert.equal(host.pending, 1);
  assert.equal(await later, 41);
  assert.equal(await host.exports.value_unit(1), undefined);
  assert.equal(host.pending, 0);
  assert.equal(host.exports.add(2, 3), 5);
});

test('an async import that resolves with a number completes the guest future with it', limit, async () => {
  const host = await start({
    asyncImports: { host: { value: async (x) => (x < 0 ? -7 : x + 100) } },
  });
  assert.equal(await host.exports.value_plus_one(1), 102);
  assert.equal(await host.exports.value_plus_one(-1), -6);
  // A value already there when the import returns, and one that is not even a Promise.
  const sync = await start({ asyncImports: { host: { value: (x) => x * 2 } } });
  assert.equal(await sync.exports.value_plus_one(8), 17);
});

test('an async import that resolves with bytes hands them to the guest', limit, async () => {
  const bodies = {
    bytes: new Uint8Array([1, 2, 3, 250]),
    text: 'héllo, wörld',
    empty: new Uint8Array(0),
    big: new Uint8Array(1 << 20).map((_, i) => (i * 7) & 255),
    buffer: new Uint16Array([0x0102, 0x0304]).buffer,
    code: -404,
  };
  const seen = [];
  const host = await start({
    asyncImports: (h) => ({
      host: {
        async fetch(ptr, len) {
          const url = h.string(ptr, len); // read during the import's call
          seen.push(url);
          await after(1);
          return bodies[url];
        },
      },
    }),
  });
  const utf8 = new TextEncoder().encode(bodies.text);
  assert.equal(await call(host, 'fetch_len', 'bytes'), 4);
  assert.equal((await call(host, 'fetch_fnv', 'bytes')) >>> 0, fnv1a(bodies.bytes));
  assert.equal(await call(host, 'fetch_len', 'text'), utf8.length);
  assert.equal((await call(host, 'fetch_fnv', 'text')) >>> 0, fnv1a(utf8));
  assert.equal(await call(host, 'fetch_len', 'empty'), 0);
  assert.equal((await call(host, 'fetch_fnv', 'empty')) >>> 0, fnv1a([]), 'empty bytes are Ok(empty), not Err(0)');
  assert.equal(await call(host, 'fetch_len', 'big'), 1 << 20);
  assert.equal((await call(host, 'fetch_fnv', 'big')) >>> 0, fnv1a(bodies.big));
  assert.equal(await call(host, 'fetch_len', 'buffer'), 4);
  assert.equal(await call(host, 'fetch_len', 'code'), -404, 'a number completes a bytes future with Err');
  assert.deepEqual(seen.slice(0, 2), ['bytes', 'bytes']);
});

test('a rejected async import completes with REJECTED and is reported', limit, async () => {
  const reported = [];
  const host = await start({
    asyncImports: (h) => ({
      host: {
        fetch: async (ptr, len) => {
          throw new Error(`no ${h.string(ptr, len)}`);
        },
        value: () => ({ not: 'a number' }),
      },
    }),
    onRejection: (e, name) => reported.push(`${name}: ${e.message}`),
  });
  assert.equal(REJECTED, -1);
  assert.equal(await call(host, 'fetch_len', 'x'), REJECTED);
  assert.equal(await host.exports.value_plus_one(1), REJECTED + 1);
  assert.equal(reported.length, 2);
  assert.equal(reported[0], 'host.fetch: no x');
  assert.match(reported[1], /^host\.value: .*expected a number or bytes/);
  assert.equal(host.dead, null);
});

test('spawned tasks await the host operations of their own', limit, async () => {
  const host = await start({
    asyncImports: { host: { value: (i) => after(Math.floor(Math.random() * 10), i * 3) } },
  });
  const start_ = host.exports.tasks();
  assert.equal(await host.exports.spawn_sum(200), 3 * ((199 * 200) / 2));
  assert.equal(host.exports.tasks(), start_);
});

test('10,000 overlapping pending calls in one instance, completed in another order', limit, async () => {
  const waiting = [];
  const host = await start({
    asyncImports: { host: { value: (x) => new Promise((resolve) => waiting.push(() => resolve(x * 2))) } },
  });
  const before = host.exports.tasks();
  const N = 10_000;
  const calls = [];
  for (let i = 0; i < N; i++) calls.push(i % 2 ? host.exports.value_plus_one(i) : host.exports.ready(i));
  await after(1);
  assert.equal(host.pending, N / 2);
  assert.equal(host.exports.tasks(), before + N / 2, 'each waiting call is a task');
  // Complete them from the last to the first, half of them at once, the others one at a time.
  waiting.reverse();
  for (const [i, complete] of waiting.entries()) {
    complete();
    if (i % 2) await after(0);
  }
  const results = await Promise.all(calls);
  for (let i = 0; i < N; i++) assert.equal(results[i], i % 2 ? 2 * i + 1 : 2 * i, `call ${i}`);
  assert.equal(host.pending, 0);
  assert.equal(host.exports.tasks(), before);
});

test('a call that waits while thousands of later calls come and go gets its own result', limit, async () => {
  // The host keeps waiting calls by id; ids count up, so the later calls pass the waiting
  // call's id again and again in any table indexed by the id's low bits.
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const host = await start({ asyncImports: { host: { value: (x) => (x === 0 ? held : Promise.resolve(x)) } } });
  const waiting = [host.exports.value_plus_one(0), host.exports.value_plus_one(0)];
  for (let i = 1; i <= 5_000; i++) assert.equal(await host.exports.value_plus_one(i), i + 1);
  // Two at once (the table grows) and thousands more, while the first two wait.
  for (let round = 0; round < 3; round++) {
    const many = Array.from({ length: 3_000 }, (_, i) => host.exports.value_plus_one(i + 1));
    assert.deepEqual(await Promise.all(many), Array.from({ length: 3_000 }, (_, i) => i + 2));
  }
  assert.equal(host.pending, 2);
  release(41);
  assert.deepEqual(await Promise.all(waiting), [42, 42]);
  assert.equal(host.pending, 0);
});

test('async imports take their arguments whether the library got bytes or a compiled module', limit, async () => {
  // From bytes the library reads each import's parameters and passes exactly those; from a
  // WebAssembly.Module it passes whatever wasm passes. Either way the function sees them all.
  for (const compiled of [false, true]) {
    const seen = [];
    const host = await start({
      compiled,
      asyncImports: {
        host: {
          value: (...args) => (seen.push(args.length), args[0] * 3),
          fetch: (ptr, len, ...rest) => (seen.push(2 + rest.length), host.bytes(ptr, len)),
        },
      },
    });
    assert.equal(await host.exports.value_plus_one(7), 22);
    assert.equal(await call(host, 'fetch_len', 'abcd'), 4);
    assert.deepEqual(seen, [1, 2], `compiled: ${compiled}`);
  }
});
