// The filters alone, without Envoy: each module under Node's V8 with a stub proxy-wasm host,
// driven through the callbacks Envoy makes per request, so that only the filter's own work is
// timed (its logic, which both share, and the glue: the SDK's or wasmexport-proxy's).
//
//   node guests.mjs ours=auth_filter.wasm sdk=sdk_auth_filter.wasm
//
// prints a Markdown table (ns per request, CPU and wall time, per path, ours over the SDK's)
// and the verdict on the goal; `cargo xtask bench` appends it to target/bench/envoy.md. The
// two modules take turns every 256 requests, each turn timed on its own, and the figures are
// medians over the turns (see `round`): the same module against itself gives 1.00x within
// 0.01 in a run, within 0.03 from one run to the next.
// GUESTS_MS (a round's time per path and module, 150 ms) and GUESTS_ROUNDS (11) set the run's
// size; GUESTS_COUNT=1 prints the host calls per request instead.
//
// Per request, as Envoy 1.40 does for a filter that exports every callback (a module that
// lacks one is not called for it): proxy_on_context_create, proxy_on_request_headers, for a
// callout proxy_on_http_call_response (the auth service's headers read through
// proxy_get_header_map_*), then, once the request went on or was answered,
// proxy_on_response_headers and proxy_on_response_body (Envoy's `ok\n`, or the filter's own
// reply), proxy_on_log, proxy_on_done and proxy_on_delete. Requests come in batches of 16 in flight (the wrk bench's
// connections): every batch's headers, then every callout's answer, then every ending. Ticks
// come as Envoy sends them, only while a root has a tick period. Each request's outcome is
// checked (the header set, the token removed, the 403, the stream continued), so a stub that
// breaks a filter stops the run instead of giving a figure.

import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

// A run long enough that the clock's grain (CPU time is counted in ticks) is lost in it.
const RUN_MS = Number(process.env.GUESTS_MS ?? 150);
/** Requests per turn: long enough that timing it costs nothing to speak of. */
const CHUNK = 256;
const ROUNDS = Number(process.env.GUESTS_ROUNDS ?? 11);
const BATCH = 16;
const COUNT = Boolean(process.env.GUESTS_COUNT);

const ALLOW = 'Bearer bench:ok';
const DENY = 'Bearer bench:no';

// The paths, each on one of the two plugin configurations (root contexts) of the module's one
// VM, as in the wrk bench: `cached` with a verdict cache, `fresh` without.
// `callouts`: how many the filter must make per request.
const PATHS = [
  { name: 'pass-through', root: 'cached', path: '/public/x', token: null, callouts: 0 },
  { name: 'callout, verdict cached', root: 'cached', path: '/api/x', token: ALLOW, callouts: 0 },
  { name: 'callout awaited', root: 'fresh', path: '/api/x', token: ALLOW, callouts: 1 },
  { name: 'callout, denied', root: 'fresh', path: '/api/x', token: DENY, callouts: 1 },
];
/** The cached path's first batch: the cache is empty, so each request awaits a callout. */
const PRIME = { ...PATHS[1], name: 'callout awaited', callouts: 1 };
const ROOTS = { cached: { id: 1, config: 'ttl_ms=60000' }, fresh: { id: 2, config: 'ttl_ms=0' } };

// proxy-wasm's numbers.
const OK = 0;
const NOT_FOUND = 1;
const BAD_ARGUMENT = 2;
const REQUEST_HEADERS = 0;
const RESPONSE_HEADERS = 2;
const CALLOUT_HEADERS = 6;
const PLUGIN_CONFIGURATION = 7;
const CALLOUT_BODY = 4;
const CONTINUE = 0;
const EMPTY = new Uint8Array(0);
/** The callbacks the stub makes per request. */
const CALLBACKS = ['proxy_on_context_create', 'proxy_on_request_headers', 'proxy_on_http_call_response',
  'proxy_on_response_headers', 'proxy_on_response_body', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete'];

const utf8 = new TextEncoder();
const encoded = new Map();
/** `s` as UTF-8, kept: the stub hands the same few strings over and over. */
function bytesOf(s) {
  let b = encoded.get(s);
  if (b === undefined) {
    b = utf8.encode(s);
    encoded.set(s, b);
  }
  return b;
}

/**
 * The headers Envoy's filter chain holds for a wrk request to `path`: copied per request (a
 * pair is never changed in place, only replaced), so the stub's own cost stays small.
 */
function requestHeaders(path, token) {
  const h = [
    [':authority', '127.0.0.1:10000'],
    [':path', path],
    [':method', 'GET'],
    [':scheme', 'http'],
  ];
  if (token) h.push(['authorization', token]);
  h.push(['x-forwarded-proto', 'http'], ['x-request-id', '6f1c6a0e-2d4b-4c1e-9a57-1d2c3b4a5f60']);
  // Each name's bytes beside it, for lookups (a pair the filter adds has none).
  return h.map(([n, v]) => [n, v, bytesOf(n)]);
}

for (const p of [...PATHS, PRIME]) p.headers = requestHeaders(p.path, p.token);

const DATE = ['date', 'Mon, 07 Dec 2026 06:00:00 GMT'];
/** What the auth service (an Envoy answering from its routes) says to each token. */
const ANSWERS = new Map([
  [ALLOW, [[':status', '200'], ['x-user', 'bench'], ['content-length', '0'], DATE, ['server', 'envoy'],
    ['x-envoy-upstream-service-time', '0']]],
  [DENY, [[':status', '403'], ['content-length', '0'], DATE, ['server', 'envoy'], ['x-envoy-upstream-service-time', '0']]],
]);
for (const answer of ANSWERS.values()) Object.freeze(answer);
/** The callout a filter must make for each token, as bytes (both filters' headers in this order). */
const CALLOUT_TOKENS = [ALLOW, DENY];
const AUTH = bytesOf('auth');
const DENIED = bytesOf('denied\n');
const CALLOUT_BYTES = CALLOUT_TOKENS.map((t) => encodePairs(Object.freeze([
  [':method', 'GET'], [':path', '/check'], [':authority', 'auth'], ['authorization', t]])));
const RESPONSE = [[':status', '200'], ['content-length', '3'], ['content-type', 'text/plain'], DATE, ['server', 'envoy']];

/** The value of header `name` in `pairs`, undefined if none (a loop: no closure per call). */
function find(pairs, name) {
  for (let i = 0; i < pairs.length; i += 1) if (pairs[i][0] === name) return pairs[i][1];
  return undefined;
}

/** proxy-wasm's header-map encoding of `pairs`. */
function encodePairs(pairs) {
  const cached = encoded.get(pairs);
  if (cached) return cached;
  const parts = pairs.map(([n, v]) => [bytesOf(n), bytesOf(v)]);
  let size = 4 + 8 * parts.length;
  for (const [n, v] of parts) size += n.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length, true);
  let at = 4 + 8 * parts.length;
  parts.forEach(([n, v], i) => {
    view.setUint32(4 + 8 * i, n.length, true);
    view.setUint32(8 + 8 * i, v.length, true);
    out.set(n, at);
    out.set(v, at + n.length + 1);
    at += n.length + v.length + 2;
  });
  if (Object.isFrozen(pairs)) encoded.set(pairs, out);
  return out;
}

/** A stub Envoy for one module instance: its contexts, callouts and what the filter did. */
class Host {
  constructor(name) {
    this.name = name;
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
    // GUESTS_COUNT: each host call counted (a wrapper the timed runs go without).
    const counted = (name, f) => (COUNT ? (...args) => { this.counts[name] = (this.counts[name] ?? 0) + 1; return f(...args); } : f);
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

/** Throws unless the filter did to request `ctx` what path `p` asks for. */
function check(name, p, ctx) {
  const fail = (what) => {
    throw new Error(`${name}, ${p.name}: ${what} (headers ${JSON.stringify(ctx.headers)}, ` +
      `action ${ctx.action}, continued ${ctx.continued}, reply ${JSON.stringify(ctx.reply)}, ` +
      `callouts ${JSON.stringify(ctx.callouts)})`);
  };
  const went = ctx.action === CONTINUE ? ctx.continued === 0 : ctx.continued === 1;
  const calledOut = ctx.callouts.length;
  switch (p.name) {
    case 'pass-through':
      if (ctx.action !== CONTINUE || ctx.continued || ctx.reply || calledOut) fail('not passed through at once');
      if (ctx.headers.length !== ctx.sent || find(ctx.headers, 'x-auth-user') !== undefined) fail('headers changed');
      break;
    case 'callout, verdict cached':
    case 'callout awaited':
      if (calledOut !== p.callouts) fail(`${calledOut} callouts`);
      if (calledOut && ctx.callouts[0].authorization !== p.token) fail('the token not sent to the auth service');
      if (ctx.reply || !went) fail('not continued, or continued more than once');
      if (p.callouts && ctx.action === CONTINUE) fail('continued before the callout was answered');
      if (find(ctx.headers, 'x-auth-user') !== 'bench') fail('no x-auth-user');
      if (find(ctx.headers, 'authorization') !== undefined) fail('the token went on upstream');
      break;
    case 'callout, denied':
      if (calledOut !== 1) fail(`${calledOut} callouts`);
      if (ctx.reply?.status !== 403 || ctx.reply.body !== 'denied\n' || ctx.continued) fail('not a 403 reply');
      break;
    default:
      fail('an unknown path');
  }
}

/**
 * One round of path `p`: `chunks` chunks of CHUNK requests per module, the modules taking
 * turns (the order flipped every chunk), each chunk timed on its own. Returns each module's
 * ns per request in each chunk, CPU and wall.
 *
 * The figures are medians over chunks, not sums: a collection of the stub's garbage or the
 * scheduler taking the CPU lands in one chunk at random and makes it several times as long,
 * and a round's sum is ruled by a few such chunks (the same module against itself then
 * differs by up to 2.5x between rounds; the medians of the chunks by under 2 %).
 */
function round(p, chunks) {
  const ns = guests.map(() => ({ cpu: [], wall: [] }));
  for (let c = 0; c < chunks; c += 1) {
    for (let k = 0; k < guests.length; k += 1) {
      const i = c % 2 ? guests.length - 1 - k : k;
      const wall = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      guests[i].run(p, CHUNK);
      const used = process.cpuUsage(cpu);
      ns[i].wall.push(Number(process.hrtime.bigint() - wall) / CHUNK);
      ns[i].cpu.push(((used.user + used.system) * 1000) / CHUNK);
    }
  }
  return Object.fromEntries(guests.map((g, i) => [g.name, ns[i]]));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const files = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
if (!files.ours || !files.sdk) throw new Error('usage: node guests.mjs ours=<wasm> sdk=<wasm>');
const guests = [await new Host('ours').load(files.ours), await new Host('sdk').load(files.sdk)];

for (const g of guests) g.run(PRIME, BATCH);
if (COUNT) {
  // The host calls each filter makes per request, by path, instead of timing.
  for (const p of PATHS) {
    for (const g of guests) {
      g.counts = {};
      g.run(p, BATCH * 4);
      const calls = Object.entries(g.counts).map(([n, c]) => `${n.replace(/^proxy_/, '')} ${c / (BATCH * 4)}`);
      console.log(`${p.name}, ${g.name}: ${calls.join(', ')}`);
    }
  }
  process.exit(0);
}
// Warm-up (V8's tiers, the first allocations), which also measures how many chunks make a
// round of about RUN_MS per module.
for (const p of PATHS) {
  round(p, 16);
  const { ours, sdk } = round(p, 16);
  p.chunks = Math.max(1, Math.round((RUN_MS * 1e6) / ((median(ours.wall) + median(sdk.wall)) / 2) / CHUNK));
}
// Per path and round: each module's median ns per request, and the median of the ratios of
// the chunks run side by side (ours over the SDK's).
const samples = Object.fromEntries(PATHS.map((p) => [p.name, { ours: [], sdk: [], ratio: [] }]));
for (let r = 0; r < ROUNDS; r += 1) {
  for (const p of PATHS) {
    const t = round(p, p.chunks);
    const s = samples[p.name];
    for (const g of guests) s[g.name].push({ cpu: median(t[g.name].cpu), wall: median(t[g.name].wall) });
    const ratio = (what) => median(t.ours[what].map((o, i) => o / t.sdk[what][i]));
    s.ratio.push({ cpu: ratio('cpu'), wall: ratio('wall') });
  }
}

const lines = [
  `The filters alone, without Envoy: each module under Node ${process.version}'s V8 with a stub ` +
    'proxy-wasm host, through the callbacks Envoy makes per request (16 in flight), ' +
    `${ROUNDS} rounds of about ${RUN_MS} ms per path and filter, taking turns every ${CHUNK} requests ` +
    `(${PATHS.map((p) => (p.chunks * CHUNK).toLocaleString('en')).join(', ')} requests per round); ns per request: ` +
    'the median over the chunks, the median of the rounds; ratio: the median of the ratios of the chunks ' +
    'run side by side, the median of the rounds (their range). CPU time is the goal\'s measure here: the filter\'s own cost ' +
    'in Envoy, where it runs on the worker thread between the network and the router.',
  '',
  '| path | SDK CPU | ours CPU | ours/SDK CPU | SDK wall | ours wall | ours/SDK wall |',
  '|---|---:|---:|---:|---:|---:|---:|',
];
const verdicts = [];
for (const p of PATHS) {
  const s = samples[p.name];
  const cell = (what) => {
    const ratios = s.ratio.map((r) => r[what]);
    const m = median(ratios);
    return { m, text: `${m.toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` };
  };
  const cpu = cell('cpu');
  const wall = cell('wall');
  const ns = (g, what) => `${median(s[g].map((x) => x[what])).toFixed(0)} ns`;
  lines.push(`| ${p.name} | ${ns('sdk', 'cpu')} | ${ns('ours', 'cpu')} | ${cpu.text} | ` +
    `${ns('sdk', 'wall')} | ${ns('ours', 'wall')} | ${wall.text} |`);
  verdicts.push({ path: p.name, ratio: cpu.m });
}
const worst = verdicts.reduce((a, b) => (b.ratio > a.ratio ? b : a));
// The noise of this measure: a module against itself, 1.00x within 0.01 in a run and 0.03
// from run to run; a ratio up to NOISE above 1 is a tie, not a loss.
const NOISE = 0.02;
const verdict = worst.ratio <= 1 ? '**met**' : worst.ratio <= 1 + NOISE ? '**a tie within the noise**' : '**not met**';
const callbacks = (g) => CALLBACKS.filter((c) => g.callbacks[c] !== null && c !== 'proxy_on_http_call_response').length;
lines.push('', `Callbacks per request: ours ${callbacks(guests[0])}, the SDK ${callbacks(guests[1])} (one more each ` +
  'with a callout); in Envoy each is a call from C++ into V8, dearer than the stub\'s. Ticks sent: ' +
  `${guests.map((g) => `${g.name} ${g.ticks}`).join(', ')} (Envoy ticks only a root with a tick period, which ` +
  'neither filter sets on these paths).', '',
  `Goal, from the filters' own cost: ${verdict}: ours costs ` +
  `${verdicts.map((v) => `${v.ratio.toFixed(2)}x`).join(', ')} the SDK's CPU per request on the paths above ` +
  `(highest: ${worst.path}, ${worst.ratio.toFixed(2)}x; a module against itself gives 1.00x within 0.01 in a ` +
  `run, 0.03 between runs). Throughput and p99 in Envoy follow from the filter's cost, the rest of a request ` +
  'being the same for both (the wrk table).');
process.stdout.write(lines.join('\n') + '\n');
