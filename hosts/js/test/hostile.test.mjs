// A host library used against its grain: async imports that throw, settle twice, never settle
// or settle with odd values; callbacks that throw; traps while calls and operations are in
// flight; re-entrant calls; a guest (hand-assembled below) whose statuses, ids and buffers the
// test chooses; and odd-but-valid modules for the import-section reader. Whatever happens, a
// call settles once, with its own result or an Error, and nothing is left unhandled.
import { test } from 'node:test';
import { setImmediate } from 'node:timers';
import assert from 'node:assert/strict';
import { instantiate, REJECTED } from '../index.mjs';
import { after, call, start } from './guest.mjs';

const limit = { timeout: 30_000 }; // a hung test fails instead of holding up the run

/// Runs `f` while counting unhandled rejections and uncaught exceptions (Node, Bun and Deno
/// all emit `process` events for them); waits a few turns of the event loop after it, so that
/// late ones are seen too.
async function watched(f) {
  const seen = [];
  const rejection = (e) => seen.push(['unhandledRejection', e]);
  const exception = (e) => seen.push(['uncaughtException', e]);
  process.on('unhandledRejection', rejection);
  process.on('uncaughtException', exception);
  try {
    await f();
    for (let i = 0; i < 3; i++) await after(5);
  } finally {
    process.off('unhandledRejection', rejection);
    process.off('uncaughtException', exception);
  }
  assert.deepEqual(seen, [], 'nothing is left unhandled');
}

// ---- A guest assembled by hand: its statuses, call ids, drive answers and buffers are the
// test's. ----

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s) => {
  const b = [...new TextEncoder().encode(s)];
  return [...leb(b.length), ...b];
};
const vec = (items) => [...leb(items.length), ...items.flat()];
const section = (id, body) => [id, ...leb(body.length), ...body];
const I32 = 0x7f;
const functype = (params, results) => [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];

/// A module from `types` (functypes), `imports` ([module, name, type index] for functions, or
/// [module, name, raw descriptor bytes]), `funcs` ([type index, body bytes, locals]),
/// `globals` (mutable i32s, their initial values), an exported memory of one page (unless
/// `memory` is false), and
/// `exports` ([name, func index] or [name, kind, index]). `before` is raw sections put first.
function assemble({ types, imports = [], funcs = [], globals = [], exports = [], before = [], memory = true }) {
  const bytes = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...before];
  bytes.push(...section(1, vec(types)));
  const importEntries = imports.map(([m, n, d]) => [...str(m), ...str(n), ...(typeof d === 'number' ? [0, ...leb(d)] : d)]);
  bytes.push(...section(2, vec(importEntries)));
  bytes.push(...section(3, vec(funcs.map(([t]) => leb(t)))));
  if (memory) bytes.push(...section(5, vec([[0, 1]])));
  bytes.push(...section(6, vec(globals.map((v) => [I32, 1, 0x41, ...sleb(v), 0x0b]))));
  const exportEntries = [...(memory ? [['memory', 2, 0]] : []), ...exports].map((e) => (e.length === 2 ? [e[0], 0, e[1]] : e));
  bytes.push(...section(7, vec(exportEntries.map(([n, k, i]) => [...str(n), k, ...leb(i)]))));
  const bodies = funcs.map(([, body, locals = []]) => {
    const b = [...vec(locals.map((t) => [1, t])), ...body, 0x0b];
    return [...leb(b.length), ...b];
  });
  bytes.push(...section(10, vec(bodies)));
  return new Uint8Array(bytes);
}
function sleb(n) {
  const out = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

// Opcodes.
const get = (i) => [0x20, i];
const gget = (i) => [0x23, i];
const gset = (i) => [0x24, i];
const i32 = (n) => [0x41, ...sleb(n)];
const callf = (i) => [0x10, i];
const count = [...gget(4), ...i32(1), 0x6a, ...gset(4)]; // entries++: every export counts its calls
const TRAP = -2;
const trapOnNext = [...gget(0), ...i32(TRAP), 0x46, 0x04, 0x40, 0x00, 0x0b]; // if next == TRAP: unreachable

/// The scripted guest: pending exports `p(status, v) -> status` (calls the plain import
/// `host.sync`, then `[task-return]p(status >>> 4, v)` when the status says EXIT) and `q(status) -> status` (no result), `deliver(id,
/// v)` and `deliver_q(id)` (later results), `start_op(x)` (calls the async import `host.op`),
/// `trap()`, and the protocol, whose answers are the exported globals `next` (what drive and
/// complete return; they trap when it is TRAP), `buf` (what wasmexport_buffer returns); `token`, `value`, `len` record
/// the last completion and buffer request, `entries` counts the calls into the module.
const scriptedParts = {
  types: [functype([I32, I32], []), functype([I32], []), functype([I32], [I32]), functype([I32, I32], [I32]), functype([], [I32]), functype([], [])],
  imports: [
    ['wasmexport', '[task-return]p', 0],
    ['wasmexport', '[task-return]q', 1],
    ['host', 'op', 2],
    ['host', 'sync', 5],
  ],
  globals: [-1, 0, 0, 0, 0, 0], // next, buf, token, value, entries, len
  funcs: [
    // 4: p(status, v), which calls host.sync first
    [3, [...count, ...callf(3), ...get(0), ...i32(3), 0x71, 0x45, 0x04, 0x40, ...get(0), ...i32(4), 0x76, ...get(1), ...callf(0), 0x0b, ...get(0)]],
    // 5: q(status)
    [2, [...count, ...get(0), ...i32(3), 0x71, 0x45, 0x04, 0x40, ...get(0), ...i32(4), 0x76, ...callf(1), 0x0b, ...get(0)]],
    // 6: deliver(id, v)
    [0, [...count, ...get(0), ...get(1), ...callf(0)]],
    // 7: deliver_q(id)
    [1, [...count, ...get(0), ...callf(1)]],
    // 8: start_op(x) -> token
    [2, [...count, ...get(0), ...callf(2)]],
    // 9: trap()
    [5, [...count, 0x00]],
    // 10: wasmexport_drive() -> next (traps when next is TRAP)
    [4, [...count, ...trapOnNext, ...gget(0)]],
    // 11: wasmexport_complete(token, value) -> next (traps when next is TRAP)
    [3, [...count, ...get(0), ...gset(2), ...get(1), ...gset(3), ...trapOnNext, ...gget(0)]],
    // 12: wasmexport_buffer(token, len) -> buf
    [3, [...count, ...get(1), ...gset(5), ...gget(1)]],
  ],
  exports: [
    ['p', 4], ['q', 5], ['deliver', 6], ['deliver_q', 7], ['start_op', 8], ['trap', 9],
    ['wasmexport_drive', 10], ['wasmexport_complete', 11], ['wasmexport_buffer', 12],
    ['next', 3, 0], ['buf', 3, 1], ['token', 3, 2], ['value', 3, 3], ['entries', 3, 4], ['len', 3, 5],
  ],
};
const scripted = assemble(scriptedParts);

const WAIT = 2;
const TIMER = 8;
const status = (id, code, timer = 0) => ((id << 4) | code | timer) | 0;

/// The scripted guest under the library; `op` is its async import `host.op`, `sync(host)` its
/// plain import `host.sync`.
async function scriptedHost(options = {}) {
  const host = await instantiate(scripted, {
    asyncImports: { host: { op: options.op ?? (() => 0) } },
    imports: (h) => ({ host: { sync: () => options.sync?.(h) } }),
    ...options,
  });
  const g = host.exports;
  return { host, g, entries: () => g.entries.value };
}

// ---- Async imports ----

test('an async import that throws, rejects, or settles with what is neither number nor bytes completes with REJECTED', limit, async () => {
  await watched(async () => {
    const reported = [];
    const results = [
      () => {
        throw new Error('sync throw');
      },
      () => Promise.reject(new Error('rejected')),
      () => 10n,
      () => Symbol('s'),
      () => ({ an: 'object' }),
      () => [1, 2, 3],
    ];
    let i = 0;
    const host = await start({
      asyncImports: { host: { value: () => results[i++]() } },
      onRejection: (e, name) => reported.push(`${name}: ${e?.message ?? String(e)}`),
    });
    for (let n = 0; n < results.length; n++) assert.equal(await host.exports.value_plus_one(0), REJECTED + 1, `case ${n}`);
    assert.equal(reported.length, results.length, reported.join('\n'));
    assert.equal(host.dead, null);
  });
});

test('numbers are converted as wasm converts them (ToInt32), null and undefined as 0', limit, async () => {
  const values = [NaN, -0, Infinity, 2 ** 32 + 5, -1.9, 2 ** 31, true, null, undefined];
  let i = 0;
  const host = await start({ asyncImports: { host: { value: () => values[i++] } } });
  const got = [];
  for (let n = 0; n < values.length; n++) got.push(await host.exports.value_plus_one(0));
  assert.deepEqual(got, [1, 1, 1, 6, 0, -(2 ** 31) + 1, 2, 1, 1]);
});

test('thenables that call back twice, synchronously, or throw settle the operation once', limit, async () => {
  await watched(async () => {
    const thenables = [
      { then: (ok) => (ok(5), ok(6)) },
      { then: (ok, fail) => (ok(7), fail(new Error('late'))) },
      {
        then: () => {
          throw new Error('then threw');
        },
      },
      {
        get then() {
          throw new Error('then getter threw');
        },
      },
    ];
    let i = 0;
    const reported = [];
    const host = await start({
      asyncImports: { host: { value: () => thenables[i++] } },
      onRejection: (e) => reported.push(e.message),
    });
    const got = [];
    for (let n = 0; n < thenables.length; n++) got.push(await host.exports.value_plus_one(0));
    assert.deepEqual(got, [6, 8, REJECTED + 1, REJECTED + 1]);
    assert.deepEqual(reported, ['then threw', 'then getter threw']);
  });
});

test('a Promise whose then or constructor was replaced is a thenable like any other: later, once, a throw rejects', limit, async () => {
  await watched(async () => {
    const made = [
      // A `then` that would call back at once, inside the import's call, and twice.
      () => Object.assign(Promise.resolve(4), { then: (ok) => (ok(5), ok(6)) }),
      () =>
        Object.assign(Promise.resolve(7), {
          then: () => {
            throw new Error('then threw');
          },
        }),
      () =>
        Object.defineProperty(Promise.resolve(8), 'constructor', {
          get() {
            throw new Error('constructor threw');
          },
        }),
      // A Promise of another kind, with a `then` of its own.
      () =>
        new (class extends Promise {
          then(ok, fail) {
            return super.then((v) => ok(v * 2), fail);
          }
        })((resolve) => resolve(9)),
    ];
    let i = 0;
    const reported = [];
    const host = await start({
      asyncImports: { host: { value: () => made[i++]() } },
      onRejection: (e) => reported.push(e.message),
    });
    assert.equal(await within1s(host.exports.value_plus_one(0)), 6);
    assert.equal(await within1s(host.exports.value_plus_one(0)), REJECTED + 1);
    assert.equal(await within1s(host.exports.value_plus_one(0)), REJECTED + 1);
    assert.equal(await within1s(host.exports.value_plus_one(0)), 19);
    assert.deepEqual(reported, ['then threw', 'constructor threw']);
    assert.equal(host.dead, null);
  });
});

test('an onRejection that throws still completes the operation, and nothing is left unhandled', limit, async () => {
  await watched(async () => {
    let i = 0;
    const host = await start({
      asyncImports: {
        host: {
          value: () => (i++ % 2 ? Promise.reject(new Error('no')) : { not: 'bytes' }),
        },
      },
      onRejection: () => {
        throw new Error('onRejection threw');
      },
    });
    assert.equal(await within1s(host.exports.value_plus_one(0)), REJECTED + 1, 'a bad value');
    assert.equal(await within1s(host.exports.value_plus_one(0)), REJECTED + 1, 'a rejection');
    assert.equal(host.dead, null);
  });
});

/// `p`, or a rejection after a second: what hangs fails the test at once.
function within1s(p) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('still pending after 1 s')), 1_000)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test('bytes that cannot be read (a detached buffer) complete with REJECTED, reported, and nothing is left unhandled', limit, async () => {
  await watched(async () => {
    const detached = () => {
      const b = new ArrayBuffer(8);
      structuredClone(b, { transfer: [b] });
      return b;
    };
    const results = [() => detached(), () => new Uint16Array(detached()), () => new Uint8Array(detached())];
    let i = 0;
    const reported = [];
    const host = await start({
      asyncImports: { host: { fetch: () => results[i++]() } },
      onRejection: (e, name) => reported.push(name),
    });
    assert.equal(await within1s(call(host, 'fetch_len', 'a')), REJECTED, 'a detached ArrayBuffer');
    assert.equal(await within1s(call(host, 'fetch_len', 'b')), REJECTED, 'a typed array of one');
    assert.equal(await within1s(call(host, 'fetch_len', 'c')), REJECTED, 'a Uint8Array of one');
    assert.deepEqual(reported, ['host.fetch', 'host.fetch', 'host.fetch']);
    assert.equal(host.dead, null);
  });
});

test('odd bytes reach the guest whole: a SharedArrayBuffer, a view of one, a DataView, lone surrogates', limit, async () => {
  const shared = new SharedArrayBuffer(6);
  new Uint8Array(shared).set([1, 2, 3, 4, 5, 6]);
  const bodies = {
    sabview: () => new Uint8Array(shared, 1, 4),
    sab: () => shared,
    surrogate: () => 'a\ud800b',
    dataview: () => new DataView(new ArrayBuffer(10), 2, 3),
  };
  const host = await start({ asyncImports: (h) => ({ host: { fetch: (ptr, len) => bodies[h.string(ptr, len)]() } }) });
  assert.equal(await call(host, 'fetch_len', 'sabview'), 4);
  assert.equal(await call(host, 'fetch_len', 'sab'), 6);
  assert.equal(await call(host, 'fetch_len', 'surrogate'), 5, 'a lone surrogate is U+FFFD, 3 bytes');
  assert.equal(await call(host, 'fetch_len', 'dataview'), 3);
});

test('a view of the guest memory itself reaches the guest whole, though reserving its copy grows the memory', limit, async () => {
  await watched(async () => {
    let whole = 0;
    const host = await start({
      asyncImports: (h) => ({
        host: {
          // All of the guest's memory: reserving as many bytes grows it, which detaches the
          // buffer the view looks at.
          fetch: () => {
            const v = new Uint8Array(h.memory.buffer);
            whole = v.length;
            return v;
          },
        },
      }),
    });
    assert.equal(await call(host, 'fetch_len', 'memory'), whole, 'the bytes the view had when it settled');
    assert.equal(host.dead, null);
  });
});

test('an async import that calls back into the module during its call keeps the bookkeeping right', limit, async () => {
  await watched(async () => {
    const inner = [];
    const host = await start({
      asyncImports: (h) => ({
        host: {
          value: (x) => {
            if (x === 1) {
              // Re-entrant: a plain export, pending exports (one completes at once, one waits),
              // and a drive, all from inside the guest's call of this import.
              assert.equal(h.exports.add(x, 2), 3);
              inner.push(h.exports.ready(50));
              inner.push(h.exports.value_plus_one(2));
              inner.push(h.exports.sleep_ms(1));
              h.drive();
            }
            return after(1, x * 10);
          },
        },
      }),
    });
    assert.equal(await host.exports.value_plus_one(1), 11);
    assert.deepEqual(await Promise.all(inner), [100, 21, 1]);
    assert.equal(host.pending, 0);
    assert.equal(host.dead, null);
  });
});

// ---- Traps ----

test('a call that traps inside an import of another call: both reject, onTrap once, the instance is dead', limit, async () => {
  await watched(async () => {
    const traps = [];
    let inner = null;
    const host = await start({
      asyncImports: (h) => ({
        host: {
          value: (x) => {
            // Re-entrant, and it traps (a deadlock); the guest traps the outer call too once
            // this import returns, as its executor was cut short mid-call.
            if (x === 1) inner = h.exports.stuck(0);
            return x;
          },
        },
      }),
      onTrap: (e) => traps.push(e),
    });
    const waiting = host.exports.sleep_ms(10_000);
    await assert.rejects(host.exports.value_plus_one(1), WebAssembly.RuntimeError);
    await assert.rejects(inner, WebAssembly.RuntimeError);
    await assert.rejects(waiting, (e) => e === traps[0]);
    assert.equal(traps.length, 1);
    assert.equal(host.dead, traps[0]);
    assert.equal(host.pending, 0);
    assert.match(host.stderr(), /deadlock/);
  });
});

test('a trap while calls wait and operations are in flight: each call rejects once, onTrap once, late settles do nothing', limit, async () => {
  await watched(async () => {
    const resolvers = [];
    const traps = [];
    const host = await start({
      asyncImports: { host: { value: (x) => new Promise((resolve) => resolvers.push([x, resolve])) } },
      onTrap: (e) => traps.push(e),
    });
    const outcomes = [];
    const calls = [host.exports.value_plus_one(1), host.exports.panic_on_13(2), host.exports.sleep_ms(10_000), host.exports.value_unit(3)];
    for (const c of calls) c.then((v) => outcomes.push(['ok', v]), (e) => outcomes.push(['err', e]));
    resolvers.find(([x]) => x === 2)[1](13); // panic_on_13 traps
    await after(5);
    for (const [, resolve] of resolvers) resolve(1); // late: the instance is dead
    await after(5);
    assert.equal(traps.length, 1);
    assert.equal(outcomes.length, calls.length);
    for (const [kind, e] of outcomes) {
      assert.equal(kind, 'err');
      assert.equal(e, traps[0]);
    }
    assert.equal(host.pending, 0);
  });
});

test('an onTrap that throws does not escape: the caller still gets the trap, and nothing is left unhandled', limit, async () => {
  await watched(async () => {
    let onTrapCalls = 0;
    const onTrap = () => {
      onTrapCalls++;
      throw new Error('onTrap threw');
    };
    // In a plain call: the call throws the trap.
    const a = await scriptedHost({ onTrap });
    assert.throws(() => a.g.trap(), WebAssembly.RuntimeError);
    // In the drive after a pending call's status: the call rejects with the trap.
    const b = await scriptedHost({ onTrap });
    b.g.next.value = TRAP;
    await assert.rejects(b.g.p(status(1, WAIT, TIMER), 0), WebAssembly.RuntimeError);
    // In the host's timer and in an operation's completion: nobody to throw to.
    const c = await scriptedHost({ onTrap });
    c.g.next.value = 1;
    const waiting = c.g.p(status(1, WAIT, TIMER), 0).catch((e) => e);
    c.g.next.value = TRAP;
    assert.ok((await waiting) instanceof WebAssembly.RuntimeError);
    const d = await scriptedHost({ onTrap, op: () => after(1, 1) });
    d.g.next.value = TRAP;
    d.g.start_op(0);
    await after(10);
    assert.ok(d.host.dead instanceof WebAssembly.RuntimeError);
    assert.equal(onTrapCalls, 4);
  });
});

test('host.drive() of a module without the protocol exports throws without killing it', limit, async () => {
  const plain = assemble({
    types: [functype([I32, I32], [I32])],
    funcs: [[0, [...get(0), ...get(1), 0x6a]]],
    exports: [['add', 0]],
  });
  const host = await instantiate(plain);
  assert.throws(() => host.drive(), /wasmexport_drive/);
  assert.equal(host.dead, null);
  assert.equal(host.exports.add(2, 3), 5);
});

// ---- The scripted guest: statuses, ids and buffers of the test's choosing ----

test('results reach their own calls: out of order, early before EXIT, undefined for no result, ids that wrap', limit, async () => {
  await watched(async () => {
    const { host, g } = await scriptedHost();
    // Waiting calls resolved out of order.
    const ids = [5, 6, 7, 8];
    const waiting = ids.map((id) => g.p(status(id, WAIT), 0));
    assert.equal(host.pending, 4);
    for (const id of [8, 5, 7, 6]) g.deliver(id, id * 100);
    assert.deepEqual(await Promise.all(waiting), [500, 600, 700, 800]);
    // Completed during the call: the result came before the status.
    assert.equal(await g.p(status(9, 0), 99), 99);
    assert.equal(await g.q(status(10, 0)), undefined);
    // A no-result call that waits, then completes.
    const unit = g.q(status(11, WAIT));
    g.deliver_q(11);
    assert.equal(await unit, undefined);
    // The largest id, then the ids after the wrap, while the largest still waits; an id whose
    // status is negative as an i32.
    const top = 2 ** 28 - 1;
    const last = g.p(status(top, WAIT), 0);
    const wrapped = [1, 2, 2 ** 27 + 3].map((id) => g.p(status(id, WAIT), 0));
    g.deliver(2 ** 27 + 3, 3);
    g.deliver(1, 1);
    g.deliver(top, -7);
    g.deliver(2, 2);
    assert.equal(await last, -7);
    assert.deepEqual(await Promise.all(wrapped), [1, 2, 3]);
    assert.equal(host.pending, 0);
  });
});

test('calls that share their ids with ones a ring apart land in the right places', limit, async () => {
  const { host, g } = await scriptedHost();
  const ids = [];
  for (let i = 0; i < 3_000; i++) ids.push(1 + ((i * 1024) % (2 ** 28 - 1)) + (i % 3));
  const calls = ids.map((id) => g.p(status(id, WAIT), 0));
  for (const id of [...ids].reverse()) g.deliver(id, id);
  assert.deepEqual(await Promise.all(calls), ids);
  assert.equal(host.pending, 0);
});

test('a buffer the guest cannot give (address 0) is not written: the operation completes with its length', limit, async () => {
  await watched(async () => {
    const { host, g } = await scriptedHost({ op: () => new Uint8Array([9, 9, 9, 9]) });
    const memory = new Uint8Array(host.memory.buffer);
    g.buf.value = 0; // the heap cannot give the bytes
    const token = g.start_op(0);
    await after(1);
    assert.equal(g.token.value, token);
    assert.equal(g.value.value, 4);
    assert.deepEqual([...memory.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 0], 'nothing was written at address 0');
    // A buffer that the guest gives: the bytes go there.
    g.buf.value = 64;
    g.start_op(0);
    await after(1);
    assert.deepEqual([...memory.subarray(64, 68)], [9, 9, 9, 9]);
    assert.equal(host.dead, null);
  });
});

test('a module that imports its memory: bytes reach it, and host.memory is that memory', limit, async () => {
  await watched(async () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const bytes = assemble({
      ...scriptedParts,
      memory: false,
      imports: [...scriptedParts.imports, ['env', 'memory', [2, 0, 1]]],
    });
    const host = await instantiate(bytes, {
      imports: { env: { memory }, host: { sync: () => {} } },
      asyncImports: { host: { op: () => 'abc' } },
    });
    assert.equal(host.memory, memory);
    host.exports.buf.value = 16;
    host.exports.start_op(0);
    await after(1);
    assert.equal(host.string(16, 3), 'abc');
    assert.equal(host.exports.value.value, 3);
    assert.equal(host.dead, null);
  });
});

test('a trap: no call enters the module after it, from the timer, a late completion or the caller', limit, async () => {
  await watched(async () => {
    let finish;
    const { host, g, entries } = await scriptedHost({ op: () => new Promise((resolve) => (finish = resolve)) });
    g.next.value = 5; // a guest timer 5 ms away
    const waiting = g.p(status(1, WAIT, TIMER), 0);
    g.start_op(0);
    assert.throws(() => g.trap(), WebAssembly.RuntimeError);
    const at = entries();
    await assert.rejects(waiting, WebAssembly.RuntimeError);
    finish(1);
    await after(20);
    assert.throws(() => g.deliver(1, 1), /trapped earlier/);
    await assert.rejects(g.p(status(2, 0), 0), /trapped earlier/);
    assert.throws(() => host.drive(), /trapped earlier/);
    assert.equal(entries(), at, 'the module was entered after the trap');
  });
});

test('a guest that goes on after a call it made from an import trapped: its status is not taken, nothing enters after', limit, async () => {
  await watched(async () => {
    // A guest whose runtime does not notice (the wasmexport runtime traps the outer call too).
    let reenter = false;
    const { g, entries } = await scriptedHost({
      sync: (h) => {
        if (!reenter) return;
        reenter = false;
        assert.throws(() => h.exports.trap(), WebAssembly.RuntimeError);
      },
    });
    g.next.value = 5;
    reenter = true;
    const waiting = g.p(status(1, WAIT, TIMER), 0);
    const at = entries();
    await assert.rejects(within1s(waiting), /trapped earlier/);
    await after(20);
    assert.equal(entries(), at, 'the module was entered after the trap');
  });
});

test('a drive that keeps answering 0 (a task that yields) does not hold up the event loop', limit, async () => {
  const { host, g, entries } = await scriptedHost();
  g.next.value = 0;
  const waiting = g.p(status(1, WAIT, TIMER), 0);
  const t0 = performance.now();
  let ticks = 0;
  await new Promise((resolve) => {
    const tick = () => (++ticks < 20 ? setImmediate(tick) : resolve());
    setImmediate(tick);
  });
  const took = performance.now() - t0;
  assert.ok(entries() > 1, 'the host drove');
  assert.ok(took < 1_000, `20 turns of the event loop took ${took} ms`);
  g.next.value = -1;
  g.deliver(1, 4);
  assert.equal(await waiting, 4);
  await after(5);
  const settled = entries();
  await after(20);
  assert.equal(entries(), settled, 'the host stopped driving once drive said -1');
});

test('host.drive() from user code moves the one timer earlier, keeps an earlier one, and -1 clears it', limit, async () => {
  const { host, g, entries } = await scriptedHost();
  g.next.value = 200;
  assert.equal(host.drive(), 200);
  g.next.value = 5;
  assert.equal(host.drive(), 5); // earlier: the timer moves
  g.next.value = 1_000;
  const before = entries();
  assert.equal(host.drive(), 1_000); // later: the 5 ms timer stays, fires, and learns of 1 s
  await after(30);
  assert.equal(entries(), before + 2, 'the 5 ms timer fired once, and nothing else');
  g.next.value = 20;
  host.drive(); // the timer moves from 1 s to 20 ms
  g.next.value = -1;
  assert.equal(host.drive(), -1); // and goes
  const cleared = entries();
  await after(40);
  assert.equal(entries(), cleared, 'a timer fired after drive said -1');
});

// ---- Modules the import-section reader must read right ----

test('one import name with two types: each gets all of its arguments', limit, async () => {
  const seen = [];
  const bytes = assemble({
    types: [functype([I32], [I32]), functype([I32, I32], [I32]), functype([], [I32]), functype([I32, I32], [])],
    imports: [
      ['host', 'f', 0],
      ['host', 'f', 1],
      ['wasmexport', '[task-return]p', 3],
    ],
    funcs: [
      [0, [...get(0), ...callf(0)]], // one(a)
      [1, [...get(0), ...get(1), ...callf(1)]], // two(a, b)
      [2, i32(-1)], // wasmexport_drive
      [1, i32(-1)], // wasmexport_complete
      [1, i32(0)], // wasmexport_buffer
    ],
    exports: [['one', 3], ['two', 4], ['wasmexport_drive', 5], ['wasmexport_complete', 6], ['wasmexport_buffer', 7]],
  });
  const host = await instantiate(bytes, { asyncImports: { host: { f: (...args) => (seen.push(args), 0) } } });
  host.exports.one(1);
  host.exports.two(2, 3);
  assert.deepEqual(seen, [[1], [2, 3]]);
});

test('imports of memory, table, global and tag before the functions, custom sections and padded LEB128s keep each arity right', limit, async () => {
  const seen = [];
  const custom = section(0, [...str('anything'), 1, 2, 3]);
  const tags = typeof WebAssembly.Tag === 'function';
  const bytes = assemble({
    before: custom,
    memory: false,
    types: [functype([I32, I32, I32], [I32]), functype([I32], [I32]), functype([], [I32]), functype([I32, I32], [I32]), functype([I32], [])],
    imports: [
      ['env', 'table', [1, 0x70, 0, 1]],
      ['env', 'global', [3, I32, 0]],
      ...(tags ? [['env', 'tag', [4, 0, 4]]] : []),
      ['host', 'three', 0],
      ['env', 'mem', [2, 0, 0]],
      ['host', 'one', [0, 0x81, 0x80, 0x80, 0x00]], // type 1, its index padded to 4 bytes
    ],
    funcs: [
      [0, [...get(0), ...get(1), ...get(2), ...callf(0)]],
      [1, [...get(0), ...callf(1)]],
      [2, i32(-1)],
      [3, i32(-1)],
      [3, i32(0)],
    ],
    exports: [['three', 2], ['one', 3], ['wasmexport_drive', 4], ['wasmexport_complete', 5], ['wasmexport_buffer', 6]],
  });
  const host = await instantiate(bytes, {
    imports: {
      env: {
        table: new WebAssembly.Table({ element: 'anyfunc', initial: 1 }),
        global: new WebAssembly.Global({ value: 'i32' }, 0),
        mem: new WebAssembly.Memory({ initial: 0 }),
        ...(tags ? { tag: new WebAssembly.Tag({ parameters: ['i32'] }) } : {}),
      },
    },
    asyncImports: { host: { three: (...a) => (seen.push(a), 0), one: (...a) => (seen.push(a), 0) } },
  });
  host.exports.three(1, 2, 3);
  host.exports.one(4);
  assert.deepEqual(seen, [[1, 2, 3], [4]]);
});

// ---- instantiate's inputs ----

test('instantiate takes a Response without the wasm MIME type, a Promise of bytes, and says what it cannot take', limit, async () => {
  const plain = assemble({ types: [functype([I32, I32], [I32])], funcs: [[0, [...get(0), ...get(1), 0x6a]]], exports: [['add', 0]] });
  if (typeof Response === 'function') {
    const h = await instantiate(new Response(plain));
    assert.equal(h.exports.add(1, 2), 3);
    for (const type of ['application/wasm', 'Application/WASM', 'application/wasm; charset=binary', 'text/html']) {
      const typed = await instantiate(new Response(plain, { headers: { 'content-type': type } }));
      assert.equal(typed.exports.add(1, 2), 3, type);
    }
    await assert.rejects(instantiate(new Response('gone', { status: 404 })), /404/);
  }
  assert.equal((await instantiate(Promise.resolve(plain))).exports.add(2, 2), 4);
  await assert.rejects(instantiate('guest.wasm'), TypeError);
  await assert.rejects(
    instantiate(scripted, { asyncImports: { host: { op: 42 } } }),
    /host\.op.*function/,
  );
  await assert.rejects(instantiate(scripted), /imports what was not given: host\.op, host\.sync$/);
  const noProtocol = assemble({
    types: [functype([I32, I32], []), functype([I32], [I32])],
    imports: [['wasmexport', '[task-return]p', 0]],
    funcs: [[1, get(0)]],
    exports: [['p', 1]],
  });
  await assert.rejects(instantiate(noProtocol), /lacks wasmexport_drive, wasmexport_complete, wasmexport_buffer/);
});

test('an export named __proto__ is an export like any other', limit, async () => {
  const bytes = assemble({
    types: [functype([], [I32])],
    funcs: [[0, i32(7)]],
    exports: [['__proto__', 0]],
  });
  const host = await instantiate(bytes);
  assert.ok(Object.hasOwn(host.exports, '__proto__'));
  assert.equal(host.exports.__proto__(), 7);
});

test('an argument the export cannot take throws without killing the instance', limit, async () => {
  const host = await start({ asyncImports: { host: { value: (x) => after(1, x) } } });
  const waiting = host.exports.value_plus_one(4);
  assert.throws(() => host.exports.add(1n, 2), TypeError);
  await assert.rejects(host.exports.ready(Symbol('s')), TypeError);
  assert.equal(host.dead, null);
  assert.equal(await waiting, 5);
  assert.equal(host.exports.add(1, 2), 3);
});
