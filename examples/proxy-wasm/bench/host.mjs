// A stub proxy-wasm host for one module instance, for bench/guests.mjs: the `env` imports the
// filters use, and the callbacks Envoy makes per request (see `run`), under Node's V8.

import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import {
  ANSWERS, AUTH, BAD_ARGUMENT, BATCH, CALLBACKS, CALLOUT_BODY, CALLOUT_BYTES, CALLOUT_HEADERS,
  CALLOUT_TOKENS, DENIED, EMPTY, NOT_FOUND, OK, PLUGIN_CONFIGURATION, REQUEST_HEADERS, RESPONSE,
  RESPONSE_HEADERS, ROOTS, bytesOf, check, encodePairs,
} from './scenario.mjs';

/** A stub Envoy for one module instance: its contexts, callouts and what the filter did. */
export class Host {
  /** `count`: count each host call the module makes (in `counts`, by import). */
  constructor(name, { count = false } = {}) {
    this.name = name;
    this.countCalls = count;
    this.contexts = new Map(); // stream context id -> the request's state
    this.roots = new Map(); // root context id -> { tickMs }
    this.effective = 0;
    this.nextId = 3;
    this.nextToken = 1;
    this.callout = null; // the response being delivered: { headers, body }
    this.ticks = 0;
    this.clockNs = 1e15; // a stub clock (node:wasi's costs a microsecond a reading)
  }

  // Views of the module's memory, made again once it grew (which empties the old ones: reading
  // memory.buffer on every call would cost more than some filters' whole callback).
  u8() {
    if (this.bytes.length === 0) this.bytes = new Uint8Array(this.memory.buffer);
    return this.bytes;
  }

  view() {
    if (this.dv.byteLength === 0) this.dv = new DataView(this.memory.buffer);
    return this.dv;
  }

  /** The module's string at `ptr` (ASCII in practice, decoded as such when it is). */
  str(ptr, len) {
    if (len < 13) {
      // Short: by hand (V8 keeps a string this short flat as it grows).
      const u8 = this.u8();
      let s = '';
      for (let i = ptr; i < ptr + len && u8[i] < 0x80; i += 1) s += String.fromCharCode(u8[i]);
      if (s.length === len) return s;
    }
    // Node's native decoder on a Buffer over the memory: no copy, one flat string.
    if (this.buf.length === 0) this.buf = Buffer.from(this.memory.buffer);
    return this.buf.utf8Slice(ptr, ptr + len);
  }

  /** The value of the header whose name is the module's `len` bytes at `ptr`, compared as bytes. */
  lookup(pairs, ptr, len) {
    for (let i = 0; i < pairs.length; i += 1) {
      const pair = pairs[i];
      if (this.same(ptr, len, pair[2] ?? bytesOf(pair[0]))) return pair[1];
    }
    return undefined;
  }

  /** Hands `bytes` to the module as Envoy does: a buffer from proxy_on_memory_allocate. */
  give(bytes, ptrOut, sizeOut) {
    let ptr = 0;
    if (bytes.length > 0) {
      ptr = this.exports.proxy_on_memory_allocate(bytes.length);
      this.u8().set(bytes, ptr);
    }
    const view = this.view();
    view.setUint32(ptrOut, ptr, true);
    view.setUint32(sizeOut, bytes.length, true);
    return OK;
  }

  /** The header map `map` of the effective context, null if it has none. */
  map(map) {
    if (map === CALLOUT_HEADERS) return this.callout?.headers ?? null;
    const ctx = this.contexts.get(this.effective);
    if (!ctx) return null;
    if (map === REQUEST_HEADERS) return ctx.headers;
    if (map === RESPONSE_HEADERS) return ctx.response;
    return null;
  }

  /** Calls `callback` as Envoy calls the module for context `id`. */
  enter(id, callback) {
    const outer = this.effective;
    this.effective = id;
    try {
      return callback();
    } finally {
      this.effective = outer;
    }
  }

  imports() {
    return {
      proxy_log: (level, ptr, len) => {
        if (level >= 3) throw new Error(`${this.name} logged at level ${level}: ${this.str(ptr, len)}`);
        return OK;
      },
      proxy_set_effective_context: (id) => {
        if (!this.contexts.has(id) && !this.roots.has(id)) return BAD_ARGUMENT;
        this.effective = id;
        return OK;
      },
      proxy_set_tick_period_milliseconds: (ms) => {
        const root = this.roots.get(this.effective);
        if (!root) throw new Error(`${this.name} set a tick period outside a root context`);
        root.tickMs = ms;
        root.due = this.clockNs + ms * 1e6;
        return OK;
      },
      proxy_get_buffer_bytes: (type, start, max, ptrOut, sizeOut) => {
        let buffer;
        if (type === PLUGIN_CONFIGURATION) buffer = this.roots.get(this.effective)?.config;
        else if (type === CALLOUT_BODY) buffer = this.callout?.body;
        if (!buffer) return NOT_FOUND;
        // Sizes are u32s: the SDK asks for the whole configuration with u32::MAX.
        return this.give(buffer.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), ptrOut, sizeOut);
      },
      proxy_get_header_map_pairs: (map, ptrOut, sizeOut) => {
        const pairs = this.map(map);
        if (!pairs) return BAD_ARGUMENT;
        return this.give(encodePairs(pairs), ptrOut, sizeOut);
      },
      proxy_get_header_map_value: (map, keyPtr, keyLen, ptrOut, sizeOut) => {
        const pairs = this.map(map);
        if (!pairs) return BAD_ARGUMENT;
        const value = this.lookup(pairs, keyPtr, keyLen);
        if (value === undefined) return NOT_FOUND;
        return this.give(bytesOf(value), ptrOut, sizeOut);
      },
      proxy_replace_header_map_value: (map, keyPtr, keyLen, valuePtr, valueLen) => {
        const pairs = this.map(map);
        if (!pairs) return BAD_ARGUMENT;
        const name = this.str(keyPtr, keyLen);
        const value = this.str(valuePtr, valueLen);
        const at = pairs.findIndex((p) => p[0] === name);
        if (at < 0) pairs.push([name, value]);
        else {
          pairs[at] = [name, value];
          for (let i = pairs.length - 1; i > at; i -= 1) if (pairs[i][0] === name) pairs.splice(i, 1);
        }
        return OK;
      },
      proxy_add_header_map_value: (map, keyPtr, keyLen, valuePtr, valueLen) => {
        const pairs = this.map(map);
        if (!pairs) return BAD_ARGUMENT;
        pairs.push([this.str(keyPtr, keyLen), this.str(valuePtr, valueLen)]);
        return OK;
      },
      proxy_remove_header_map_value: (map, keyPtr, keyLen) => {
        const pairs = this.map(map);
        if (!pairs) return BAD_ARGUMENT;
        for (let i = pairs.length - 1; i >= 0; i -= 1) {
          if (this.same(keyPtr, keyLen, pairs[i][2] ?? bytesOf(pairs[i][0]))) pairs.splice(i, 1);
        }
        return OK;
      },
      proxy_continue_stream: (stream) => {
        const ctx = this.contexts.get(this.effective);
        if (!ctx || stream !== 0) return BAD_ARGUMENT;
        ctx.continued += 1;
        return OK;
      },
      proxy_send_local_response: (status, _dp, _dl, bodyPtr, bodyLen, headersPtr, headersLen) => {
        const ctx = this.contexts.get(this.effective);
        if (!ctx) return BAD_ARGUMENT;
        if (ctx.reply) throw new Error(`${this.name} replied twice to one request`);
        // Both filters deny with this body: compared, not decoded.
        const body = this.same(bodyPtr, bodyLen, DENIED) ? 'denied\n' : this.str(bodyPtr, bodyLen);
        ctx.reply = { status, body, headersLen };
        return OK;
      },
      proxy_http_call: (upPtr, upLen, hPtr, hLen, _bp, bodyLen, _tp, _tl, timeoutMs, tokenOut) => {
        const ctx = this.contexts.get(this.effective);
        if (!ctx) return BAD_ARGUMENT;
        // The callout's headers compared as bytes with what the filter must send: decoding
        // them would cost the stub more than either filter spends on the callout.
        let authorization;
        for (let i = 0; i < CALLOUT_BYTES.length && !authorization; i += 1) {
          if (this.same(hPtr, hLen, CALLOUT_BYTES[i])) authorization = CALLOUT_TOKENS[i];
        }
        if (!this.same(upPtr, upLen, AUTH) || !authorization || bodyLen !== 0 || timeoutMs !== 5000) {
          const headers = this.decodePairs(hPtr, hLen);
          throw new Error(`${this.name}: an unexpected callout to ${this.str(upPtr, upLen)}: ${JSON.stringify(headers)}`);
        }
        const token = this.nextToken++;
        ctx.callouts.push({ token, authorization });
        this.view().setUint32(tokenOut, token, true);
        return OK;
      },
      proxy_get_current_time_nanoseconds: (out) => {
        this.view().setBigUint64(out, BigInt(this.clockNs), true);
        return OK;
      },
    };
  }

  /** Whether the module's `len` bytes at `ptr` are `bytes` (compared from the end, where the
   * callouts' headers differ). */
  same(ptr, len, bytes) {
    if (len !== bytes.length) return false;
    const u8 = this.u8();
    for (let i = len - 1; i >= 0; i -= 1) if (u8[ptr + i] !== bytes[i]) return false;
    return true;
  }

  decodePairs(ptr, len) {
    const view = this.view();
    const count = view.getUint32(ptr, true);
    const pairs = [];
    let at = ptr + 4 + 8 * count;
    for (let i = 0; i < count; i += 1) {
      const n = view.getUint32(ptr + 4 + 8 * i, true);
      const v = view.getUint32(ptr + 8 + 8 * i, true);
      pairs.push([this.str(at, n), this.str(at + n + 1, v)]);
      at += n + v + 2;
    }
    if (at > ptr + len) throw new Error(`${this.name}: a header map longer than its size`);
    return pairs;
  }

  async load(path) {
    const wasi = new WASI({ version: 'preview1', returnOnExit: true });
    const module = await WebAssembly.compile(readFileSync(path));
    const clock_time_get = (id, precision, out) => {
      this.clockNs += 1000; // a microsecond a reading
      this.view().setBigUint64(out, BigInt(this.clockNs), true);
      return 0;
    };
    const stub = this.imports();
    const env = {};
    this.counts = {};
    // With `count`, each host call is counted (a wrapper the timed runs go without).
    const counted = (name, f) => (this.countCalls ? (...args) => { this.counts[name] = (this.counts[name] ?? 0) + 1; return f(...args); } : f);
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.module === 'env') {
        env[imp.name] = counted(imp.name, stub[imp.name] ?? (() => { throw new Error(`${this.name} called ${imp.name}, which the stub lacks`); }));
      }
    }
    const instance = await WebAssembly.instantiate(module, {
      wasi_snapshot_preview1: { ...wasi.wasiImport, clock_time_get },
      env,
    });
    this.exports = instance.exports;
    this.callbacks = Object.fromEntries(CALLBACKS.map((c) => [c, instance.exports[c] ?? null]));
    this.memory = instance.exports.memory;
    this.bytes = new Uint8Array(0);
    this.buf = Buffer.alloc(0);
    this.dv = new DataView(new ArrayBuffer(0));
    wasi.initialize(instance);
    // Envoy's start: the first root context starts the VM; each is configured.
    const ex = this.exports;
    let first = true;
    for (const { id, config } of Object.values(ROOTS)) {
      this.roots.set(id, { config: bytesOf(config), tickMs: 0, due: 0 });
      this.enter(id, () => ex.proxy_on_context_create(id, 0));
      if (first && !this.enter(id, () => ex.proxy_on_vm_start(id, 0))) throw new Error(`${this.name}: vm start refused`);
      first = false;
      if (!this.enter(id, () => ex.proxy_on_configure(id, config.length))) throw new Error(`${this.name}: configuration refused`);
    }
    return this;
  }

  /** Envoy's ticks: each root whose period has passed on the stub clock. */
  tick() {
    for (const [id, root] of this.roots) {
      if (root.tickMs > 0 && this.clockNs >= root.due) {
        root.due = this.clockNs + root.tickMs * 1e6;
        this.ticks += 1;
        this.enter(id, () => this.exports.proxy_on_tick(id));
      }
    }
  }

  /** `count` requests on `p`, BATCH at a time; throws on any outcome but the expected one. */
  run(p, count) {
    // The callbacks, looked up once: a module that lacks one has a null here (looking up a
    // missing export per request costs the stub more than some callbacks cost the module).
    const ex = this.callbacks;
    const root = ROOTS[p.root].id;
    const batch = [];
    for (let done = 0; done < count; done += batch.length) {
      batch.length = 0;
      for (let i = 0; i < BATCH && done + i < count; i += 1) {
        const id = this.nextId++;
        const headers = p.headers.slice();
        const ctx = { id, headers, sent: headers.length, response: null, continued: 0, reply: null, callouts: [], action: -1 };
        this.contexts.set(id, ctx);
        batch.push(ctx);
        // Each callback makes its context the effective one, as Envoy does (written out: a
        // closure per call would be the stub's cost, not the filter's).
        this.effective = id;
        ex.proxy_on_context_create(id, root);
        this.effective = id;
        ctx.action = ex.proxy_on_request_headers(id, headers.length, 1);
      }
      for (const ctx of batch) {
        for (const { token, authorization } of ctx.callouts) {
          const headers = ANSWERS.get(authorization);
          this.callout = { headers, body: EMPTY };
          this.effective = ctx.id;
          ex.proxy_on_http_call_response(ctx.id, token, headers.length, 0, 0);
          this.callout = null;
        }
      }
      for (const ctx of batch) {
        check(this.name, p, ctx);
        const id = ctx.id;
        ctx.response = RESPONSE.slice();
        this.effective = id;
        if (ex.proxy_on_response_headers !== null) ex.proxy_on_response_headers(id, ctx.response.length, 0);
        this.effective = id;
        if (ex.proxy_on_response_body !== null) ex.proxy_on_response_body(id, 3, 1);
        this.effective = id;
        if (ex.proxy_on_log !== null) ex.proxy_on_log(id);
        this.effective = id;
        if (ex.proxy_on_done !== null) ex.proxy_on_done(id);
        this.effective = id;
        ex.proxy_on_delete(id);
        this.contexts.delete(id);
      }
      this.tick();
    }
  }
}
