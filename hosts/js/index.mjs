// wasmexport-host: runs a wasmexport module on the JavaScript event loop. Pending exports become
// functions that return Promises, async JS functions become the guest's host operations, and the
// guest's timers fire through one setTimeout. The protocol is docs/async-abi.md of the wasmexport
// repository; nothing here is Node-only (WASI, when the module imports it, is the caller's).

import { compile, convertible, readTypes } from './module.mjs';

/** Status code: the call completed during the call. */
const EXIT = 0;
/** Status bit: a timer is armed in the module. */
const TIMER = 8;

/** What an operation of an async import completes with when its Promise rejects. */
export const REJECTED = -1;

const TASK_RETURN = '[task-return]';
const PROTOCOL = ['wasmexport_drive', 'wasmexport_complete', 'wasmexport_buffer'];
const encoder = new TextEncoder();
/** The native `then`, to tell Promises whose `then` was replaced (or that are another kind). */
const promiseThen = Promise.prototype.then;
const decoder = new TextDecoder();

/**
 * The calls waiting for their result, by call id. The module counts ids up, so nearly every call
 * lands in a ring indexed by its id's low bits; one that finds its place taken (a call that
 * outlived a ring's worth of others) waits in a Map. A Map alone is slower than the rest of the
 * round trip together: V8's Map compacts itself over and over when keys only grow.
 */
class Calls {
  ring = new Array(1024).fill(null);
  others = new Map();
  size = 0;

  add(id, call) {
    call.id = id;
    const i = id & (this.ring.length - 1);
    if (this.ring[i] === null) this.ring[i] = call;
    else if (this.size >= this.ring.length >>> 1 && this.ring.length < 1 << 16) {
      this.grow();
      return this.add(id, call);
    } else this.others.set(id, call);
    this.size++;
  }

  /** The call with `id`, taken out of the table, or undefined. */
  take(id) {
    const i = id & (this.ring.length - 1);
    let call = this.ring[i];
    if (call !== null && call.id === id) this.ring[i] = null;
    else {
      call = this.others.get(id);
      if (call === undefined) return undefined;
      this.others.delete(id);
    }
    this.size--;
    return call;
  }

  grow() {
    const all = [...this.values()];
    this.ring = new Array(this.ring.length * 2).fill(null);
    this.others = new Map();
    this.size = 0;
    for (const call of all) this.add(call.id, call);
  }

  *values() {
    for (const call of this.ring) if (call !== null) yield call;
    yield* this.others.values();
  }

  clear() {
    this.ring.fill(null);
    this.others.clear();
    this.size = 0;
  }
}

/** Keeps the process alive for timer `t`, or not (Node and Bun: ref/unref; Deno: its own). */
function keepAlive(t, on) {
  if (typeof t === 'object' && t !== null) on ? t.ref?.() : t.unref?.();
  else if (globalThis.Deno?.unrefTimer) on ? globalThis.Deno.refTimer(t) : globalThis.Deno.unrefTimer(t);
}

/**
 * Bytes to hand to the guest, or null for a value that is neither bytes nor a string; throws for
 * bytes that cannot be read (of a detached buffer).
 */
function asBytes(v) {
  if (v instanceof Uint8Array) {
    // A view of a detached buffer reads as empty: constructing on the buffer says why.
    if (v.length === 0 && v.buffer.byteLength === 0) new Uint8Array(v.buffer);
    return v;
  }
  if (typeof v === 'string') return encoder.encode(v);
  if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer)) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/**
 * Instantiates a wasmexport module and returns its host: `host.exports.NAME(...)`, where a
 * pending export returns a Promise of its result. See index.d.ts for the options.
 */
export async function instantiate(source, options = {}) {
  const { module, bytes } = await compile(source);
  const types = bytes && readTypes(bytes);
  const arities = types?.imports;
  const { wasi = null, onRejection = null, onTrap = null } = options;
  const host = {
    module,
    instance: null,
    memory: null,
    exports: {},
    /** The error that killed the instance, or null while it lives. */
    dead: null,
    /** How many pending-export calls are waiting for their result. */
    get pending() {
      return calls.size;
    },
    /** Reads `len` bytes at `ptr` as UTF-8. */
    string: (ptr, len) => decoder.decode(view(ptr, len)),
    /** Copies `len` bytes at `ptr`. */
    bytes: (ptr, len) => view(ptr, len).slice(),
    /** Runs every ready task and due timer (wasmexport_drive) and reschedules the timer. */
    drive: () => {
      if (typeof raw?.wasmexport_drive !== 'function') {
        throw new Error(
          raw === null
            ? 'wasmexport-host: drive() before the instance exists'
            : 'wasmexport-host: the module lacks wasmexport_drive: add `wasmexport::async_abi!();` to it',
        );
      }
      return enter(() => schedule(raw.wasmexport_drive()));
    },
  };
  const view = (ptr, len) => new Uint8Array(host.memory.buffer, ptr >>> 0, len >>> 0);

  let raw = null; // the instance's exports
  const calls = new Calls(); // call id -> { resolve, reject }, for calls that returned WAIT
  const early = new Map(); // call id -> result delivered before the call returned its status
  // Tokens count up from 1 and wrap after 2^31 - 1 operations: a token is never reused while
  // the guest may still hold its completion, unless that operation outlived 2^31 - 2 others.
  let lastToken = 0;
  let timer = null;
  let timerAt = Infinity;
  let held = false; // whether the timer keeps the process alive (while calls are pending)

  // Every call into the module goes through here: a throw is a trap, and kills the instance.
  function enter(f) {
    if (host.dead) throw deadError();
    try {
      return f();
    } catch (e) {
      kill(e);
      throw e;
    }
  }
  function deadError() {
    return new Error(`wasmexport-host: the instance trapped earlier and is dead (${host.dead})`, { cause: host.dead });
  }
  function kill(e) {
    if (host.dead) return;
    host.dead = e;
    schedule(-1);
    const waiting = [...calls.values()];
    calls.clear();
    for (const call of waiting) call.reject(e);
    early.clear();
    // A call still on the stack may return a status after this (it made the call that trapped
    // from an import, which went on, in a guest that does not notice): it waits for nothing,
    // and nothing drives the dead module for it. Set here, not tested on each call.
    calls.add = (id, call) => call.reject(deadError());
    raw = { wasmexport_drive: throwDead, wasmexport_complete: throwDead, wasmexport_buffer: throwDead };
    tell(onTrap, e);
  }
  // Calls a callback of the caller's: what it throws is dropped, as it has nobody to go to (a
  // timer's or a Promise's callback would make it an uncaught error) and must not keep the
  // library from finishing its work.
  function tell(f, a, b) {
    try {
      f?.(a, b);
    } catch {}
  }

  // One timer for the earliest deadline the module reported; -1 clears it. A timer that fires
  // earlier than needed (or less than 1 ms later) is kept: it drives, and reschedules.
  function schedule(ms) {
    if (ms < 0 || host.dead) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      timerAt = Infinity;
      return ms;
    }
    const at = performance.now() + ms;
    if (timer !== null) {
      if (timerAt <= at + 1) return ms;
      clearTimeout(timer);
    }
    timer = setTimeout(onTimer, ms);
    timerAt = at;
    if (!held) keepAlive(timer, false);
    return ms;
  }
  function onTimer() {
    timer = null;
    timerAt = Infinity;
    if (!host.dead) {
      try {
        schedule(raw.wasmexport_drive());
      } catch (e) {
        kill(e);
      }
    }
  }
  function hold(on) {
    held = on;
    if (timer !== null) keepAlive(timer, on);
  }

  // `[task-return]NAME(id, result)`: resolves the call, or keeps the result for a call that has
  // not returned its status yet.
  function taskReturn(id, value) {
    const call = calls.take(id);
    if (call === undefined) {
      early.set(id, value);
      return;
    }
    if (calls.size === 0) hold(false);
    call.resolve(value);
  }

  // A pending export's status, or `{ e }` when the call threw, or null when the instance was
  // dead: the Promise of its result.
  function started(status) {
    if (typeof status !== 'number') return Promise.reject(status === null ? deadError() : status.e);
    const id = status >>> 4;
    let result;
    if ((status & 3) === EXIT) {
      result = Promise.resolve(early.get(id));
      early.delete(id);
    } else {
      result = new Promise((resolve, reject) => calls.add(id, { id, resolve, reject }));
      if (!held) hold(true);
    }
    if (status & TIMER) {
      try {
        schedule(raw.wasmexport_drive());
      } catch (e) {
        kill(e);
      }
    }
    return result;
  }
  const throwDead = () => {
    throw deadError();
  };
  // A call of an export with parameter types `types` (undefined: not known) threw `e`: a trap,
  // or an exception thrown through the module from an import, which kill the instance, unless
  // the call never entered it (wasm could not convert its arguments). `{ e }` for `started`.
  const failed = (e, types, args) => {
    if (types === undefined || convertible(types, args)) kill(e);
    return { e };
  };
  const trapped = (e, types, args) => {
    throw failed(e, types, args).e;
  };

  // Up to three arguments are passed one by one: a rest parameter costs more than the call
  // into wasm itself.
  function pendingExport(fn, t) {
    switch (fn.length) {
      case 0: return () => { let s = null; if (!host.dead) try { s = fn(); } catch (e) { s = failed(e, t, []); } return started(s); };
      case 1: return (a) => { let s = null; if (!host.dead) try { s = fn(a); } catch (e) { s = failed(e, t, [a]); } return started(s); };
      case 2: return (a, b) => { let s = null; if (!host.dead) try { s = fn(a, b); } catch (e) { s = failed(e, t, [a, b]); } return started(s); };
      case 3: return (a, b, c) => { let s = null; if (!host.dead) try { s = fn(a, b, c); } catch (e) { s = failed(e, t, [a, b, c]); } return started(s); };
      default: return (...a) => { let s = null; if (!host.dead) try { s = fn(...a); } catch (e) { s = failed(e, t, a); } return started(s); };
    }
  }
  function plainExport(fn, t) {
    switch (fn.length) {
      case 0: return () => { if (host.dead) throwDead(); try { return fn(); } catch (e) { trapped(e, t, []); } };
      case 1: return (a) => { if (host.dead) throwDead(); try { return fn(a); } catch (e) { trapped(e, t, [a]); } };
      case 2: return (a, b) => { if (host.dead) throwDead(); try { return fn(a, b); } catch (e) { trapped(e, t, [a, b]); } };
      case 3: return (a, b, c) => { if (host.dead) throwDead(); try { return fn(a, b, c); } catch (e) { trapped(e, t, [a, b, c]); } };
      default: return (...a) => { if (host.dead) throwDead(); try { return fn(...a); } catch (e) { trapped(e, t, a); } };
    }
  }

  // An operation of an async import settled: hand its value or bytes to the guest.
  function settle(token, v, name) {
    if (host.dead) return;
    let bytes = null;
    if (typeof v !== 'number' && typeof v !== 'boolean' && v !== undefined && v !== null) {
      let why = null;
      try {
        bytes = asBytes(v);
      } catch (e) {
        why = e;
      }
      if (bytes === null) {
        why ??= new TypeError(`async import ${name} settled with ${typeof v}: expected a number or bytes`);
        tell(onRejection, why, name);
        if (host.dead) return;
        v = REJECTED;
      } else if (bytes.buffer === host.memory?.buffer) {
        bytes = bytes.slice(); // the guest's own memory: reserving the buffer may grow (detach) it
      }
    }
    try {
      if (bytes === null) {
        schedule(raw.wasmexport_complete(token, Number(v ?? 0) | 0));
      } else {
        // A buffer of at least one byte: one of 0 bytes is none, and the guest would see Err(0).
        // At address 0 there is none: the guest's heap could not give it, and the operation
        // completes with the length (a bytes future gets Err(length)).
        const ptr = raw.wasmexport_buffer(token, Math.max(bytes.length, 1));
        if (ptr !== 0) view(ptr, bytes.length).set(bytes);
        schedule(raw.wasmexport_complete(token, bytes.length));
      }
    } catch (e) {
      kill(e);
    }
  }

  // Hands the outcome of an operation's Promise (or value) to the guest once it settles. A
  // Promise's `then` runs on this microtask; one put on a Promise object (and any thenable's)
  // runs on a later one, and only its first outcome counts.
  function track(token, p, name) {
    try {
      let q = Promise.resolve(p);
      if (q.then !== promiseThen) q = new Promise((resolve) => resolve(q));
      q.then(
        (v) => settle(token, v, name),
        (e) => failedOp(token, e, name),
      );
    } catch (e) {
      // A `constructor` or `then` getter of the Promise threw.
      Promise.resolve().then(() => failedOp(token, e, name));
    }
  }
  function failedOp(token, e, name) {
    tell(onRejection, e, name);
    settle(token, REJECTED, name);
  }

  // An operation of an async import started: its token, for the guest.
  function begin(call, name) {
    const token = (lastToken = lastToken >= 0x7fffffff ? 1 : lastToken + 1);
    track(token, call, name);
    return token;
  }
  const rejected = (e) => Promise.reject(e);

  // Up to three parameters are taken one by one where the import's type is known: wasm calls a
  // function with a rest parameter more slowly.
  function asyncImport(fn, name, arity) {
    switch (arity) {
      case 0: return () => { let p; try { p = fn(); } catch (e) { p = rejected(e); } return begin(p, name); };
      case 1: return (a) => { let p; try { p = fn(a); } catch (e) { p = rejected(e); } return begin(p, name); };
      case 2: return (a, b) => { let p; try { p = fn(a, b); } catch (e) { p = rejected(e); } return begin(p, name); };
      case 3: return (a, b, c) => { let p; try { p = fn(a, b, c); } catch (e) { p = rejected(e); } return begin(p, name); };
      default: return (...a) => { let p; try { p = fn(...a); } catch (e) { p = rejected(e); } return begin(p, name); };
    }
  }

  // The import object: WASI, the caller's imports, the async imports, the task-return imports.
  const given = (o) => (typeof o === 'function' ? o(host) : o) ?? {};
  const importObject = {};
  if (wasi) importObject.wasi_snapshot_preview1 = wasi.wasiImport ?? wasi.getImportObject().wasi_snapshot_preview1;
  for (const [m, fns] of Object.entries(given(options.imports))) importObject[m] = { ...importObject[m], ...fns };
  const asyncImports = given(options.asyncImports);
  for (const [m, fns] of Object.entries(asyncImports)) {
    importObject[m] ??= {};
    for (const [n, fn] of Object.entries(fns)) {
      if (typeof fn !== 'function') throw new TypeError(`wasmexport-host: async import ${m}.${n} is not a function but ${typeof fn}`);
      importObject[m][n] = asyncImport(fn, `${m}.${n}`, arities?.get(`${m}\0${n}`));
    }
  }
  const pendingNames = new Set();
  const missing = [];
  let importedMemory = null; // the memory of a module that imports its memory
  for (const { module: m, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind === 'memory' && importObject[m]?.[name] instanceof WebAssembly.Memory) importedMemory = importObject[m][name];
    if (m === 'wasmexport' && name.startsWith(TASK_RETURN) && kind === 'function') {
      pendingNames.add(name.slice(TASK_RETURN.length));
      importObject[m] ??= {};
      importObject[m][name] ??= taskReturn;
    } else if (importObject[m]?.[name] === undefined) {
      missing.push(`${m}.${name}`);
    }
  }
  if (missing.length) {
    const hint = missing.some((i) => i.startsWith('wasi_snapshot_preview1.')) ? ' (pass `wasi`)' : '';
    throw new Error(`wasmexport-host: the module imports what was not given${hint}: ${missing.join(', ')}`);
  }
  const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const needed = pendingNames.size > 0 || Object.keys(asyncImports).length > 0;
  const lacking = PROTOCOL.filter((p) => !exported.has(p));
  if (needed && lacking.length) {
    throw new Error(`wasmexport-host: the module lacks ${lacking.join(', ')}: add \`wasmexport::async_abi!();\` to it`);
  }

  const instance = await WebAssembly.instantiate(module, importObject);
  raw = instance.exports;
  host.instance = instance;
  host.memory = raw.memory ?? importedMemory;
  for (const [name, value] of Object.entries(raw)) {
    if (PROTOCOL.includes(name)) continue;
    const t = types?.exports.get(name);
    const wrapped = typeof value !== 'function' ? value : pendingNames.has(name) ? pendingExport(value, t) : plainExport(value, t);
    // Defined, not assigned: an export may be named `__proto__`.
    Object.defineProperty(host.exports, name, { value: wrapped, enumerable: true });
  }
  Object.freeze(host.exports);
  try {
    if (wasi?.initialize) wasi.initialize(instance);
    else {
      // Bun's node:wasi has no `initialize`: it reads the guest's memory only once `setMemory`
      // (or `start`, which would also call `_start`) has bound it.
      if (wasi?.setMemory && host.memory) wasi.setMemory(host.memory);
      raw._initialize?.();
    }
  } catch (e) {
    kill(e);
    throw e;
  }
  return host;
}
