// keygate (the wasmexport guest) in a real Traefik. `cargo xtask test` starts Traefik and the
// upstream (which echoes the request line and headers it got) and passes Traefik's address in
// KEYGATE_URL. Routes: /kg/ (alice and bob, burst 5, debug headers on), /cfg/ (carol's key in
// X-Token, burst 2), /load/ and /mem/ (dave, no limit in practice, debug headers on).
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';

const base = process.env.KEYGATE_URL;
if (!base) throw new Error('KEYGATE_URL is not set: run this through cargo xtask test');

// A hung Traefik fails a test instead of holding up cargo xtask test.
const test = (name, fn) => nodeTest(name, { timeout: 120_000 }, fn);

async function get(path, headers = {}) {
  const res = await fetch(base + path, { headers, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

// `count` requests, `concurrency` at a time, in order of completion.
async function many(count, concurrency, path, headers) {
  const out = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      out.push(await get(path, headers));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

test('a request with a known key goes upstream as its client, with the header added', async () => {
  const r = await get('/kg/hello?x=1', { 'x-api-key': 'k-alice' });
  assert.equal(r.status, 200);
  assert.match(r.body, /^GET \/kg\/hello\?x=1 HTTP\/1\.1\n/, 'the upstream answered');
  assert.match(r.body, /\nx-client: alice\n/, 'the upstream got x-client');
  assert.doesNotMatch(r.body, /x-api-key/, 'the key does not reach the upstream');
  assert.match(r.headers.get('x-wasm-ratelimit-remaining') ?? '', /^[0-4]$/);
});

test('no key, or an unknown one: 401 written by the guest, the upstream never sees it', async () => {
  for (const headers of [{}, { 'x-api-key': 'k-mallory' }, { 'x-api-key': 'k-alice-and-more' }]) {
    const r = await get('/kg/secret', headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.equal(r.body, 'keygate: missing or unknown API key\n');
    assert.equal(r.headers.get('x-wasm-ratelimit-remaining'), null);
  }
});

test('rate limit: each instance lets a client through 5 times, then answers 429', async () => {
  // Every pooled instance has its own buckets (linear memory is per instance), so the
  // responses are checked per instance: x-wasm-instance (a debug header) names it.
  const byInstance = new Map();
  for (let i = 0; i < 40; i += 1) {
    const r = await get('/kg/limited', { 'x-api-key': 'k-bob' });
    const id = r.headers.get('x-wasm-instance');
    assert.ok(id, 'every response names its instance');
    if (!byInstance.has(id)) byInstance.set(id, []);
    byInstance.get(id).push(r);
  }
  let refused = 0;
  for (const [id, responses] of byInstance) {
    responses.forEach((r, n) => {
      if (n < 5) {
        assert.equal(r.status, 200, `instance ${id}, request ${n + 1}`);
        assert.equal(r.headers.get('x-wasm-ratelimit-remaining'), String(4 - n));
      } else {
        assert.equal(r.status, 429, `instance ${id}, request ${n + 1}`);
        assert.equal(r.body, 'keygate: rate limit exceeded\n');
        // 1 token at 0.001 per second, less what has come back already.
        assert.ok(Number(r.headers.get('retry-after')) > 900, r.headers.get('retry-after'));
        refused += 1;
      }
    });
  }
  assert.ok(refused > 0, `no 429 in 40 requests over ${byInstance.size} instances`);
});

test("the plugin config reaches the guest: /cfg/'s header, key, burst and no debug headers", async () => {
  assert.equal((await get('/cfg/', { 'x-api-key': 'k-carol' })).status, 401, 'not the header there');
  assert.equal((await get('/cfg/', { 'x-token': 'k-alice' })).status, 401, 'not a key there');
  const r = await get('/cfg/ok', { 'x-token': 'k-carol' });
  assert.equal(r.status, 200);
  assert.match(r.body, /\nx-client: carol\n/);
  assert.doesNotMatch(r.body, /x-token/);
  assert.equal(r.headers.get('x-wasm-ratelimit-remaining'), '1', 'burst 2, one taken');
  assert.equal(r.headers.get('x-wasm-instance'), null, 'debug is off on this route');
});

test('many concurrent requests: every one answered right, by several pooled instances', async () => {
  const responses = await many(2000, 64, '/load/c', { 'x-api-key': 'k-dave' });
  const instances = new Set();
  for (const r of responses) {
    assert.equal(r.status, 200);
    assert.match(r.body, /\nx-client: dave\n/);
    instances.add(r.headers.get('x-wasm-instance'));
  }
  console.log(`# 2000 requests, 64 at a time: ${instances.size} instances`);
  assert.ok(instances.size >= 2, `only ${instances.size} instance served 64 concurrent clients`);
});

test('linear memory stays flat over thousands of requests', async () => {
  // One at a time, on a route of its own, so that few instances serve them: 64 concurrent
  // clients leave about 64 instances in a middleware's pool, which then all take turns.
  const responses = await many(3000, 1, '/mem/', { 'x-api-key': 'k-dave' });
  const first = new Map();
  const counts = new Map();
  for (const r of responses) {
    assert.equal(r.status, 200);
    const id = r.headers.get('x-wasm-instance');
    const bytes = Number(r.headers.get('x-wasm-memory'));
    if (!first.has(id)) first.set(id, bytes);
    counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.equal(bytes, first.get(id), `instance ${id} grew after ${counts.get(id)} requests`);
  }
  const busiest = Math.max(...counts.values());
  console.log(`# 3000 requests on ${first.size} instances (busiest ${busiest}): memory ${[...new Set(first.values())].join(', ')} bytes`);
  assert.ok(busiest >= 1000, `no instance served 1000 requests (busiest: ${busiest})`);
});

test("Traefik's monotonic clock is fake: it moves exactly 1 ms per reading", async () => {
  // Traefik gives guests wazero's default monotonic clock, which returns 0, 1 ms, 2 ms, ...
  // one step per reading, and a real wall clock. x-wasm-clock-step is the difference of two
  // back-to-back Instant::now() readings: nanoseconds on a real clock, 1,000,000 here.
  const r = await get('/kg/clock', { 'x-api-key': 'k-alice' });
  assert.equal(r.headers.get('x-wasm-clock-step'), '1000000');
});

test('wasmexport::time::sleep in Traefik: 100 ms on the fake clock, less in real time', async () => {
  // /sleep/ runs the clock probe: an async handle_request that sleeps 100 ms. poll_oneoff
  // returns at once there and every reading moves the clock 1 ms, so the executor's wait
  // reads it until the deadline has passed: the sleep ends on the first reading at or after
  // 100 ms, whatever the real time.
  for (let i = 0; i < 3; i += 1) {
    const r = await get('/sleep/', {});
    assert.equal(r.status, 200);
    const monotonic = Number(r.headers.get('x-probe-monotonic-us'));
    const wall = Number(r.headers.get('x-probe-wall-us'));
    console.log(`# sleep(100 ms): ${monotonic / 1000} ms on the monotonic clock, ${wall / 1000} ms of wall time`);
    assert.ok(monotonic >= 100_000 && monotonic <= 105_000, `monotonic ${monotonic} µs`);
  }
});

// Traefik's log, where the guests' trap reporters send wasmexport's line before a trap.
async function traefikLog() {
  const { readFile } = await import('node:fs/promises');
  return readFile(process.env.KEYGATE_TRAEFIK_LOG, 'utf8');
}

test("a config the guest refuses fails the middleware at load: its route is gone, the reason in Traefik's log", async () => {
  const r = await get('/bad/', { 'x-api-key': 'carol' });
  assert.equal(r.status, 404, 'Traefik drops a router whose middleware cannot be built');
  const log = await traefikLog();
  const line = 'wasmexport: panic in export "_initialize": keygate config: a key is not "client:key": String("carol")';
  assert.ok(log.includes(line), `Traefik's log lacks: ${line}`);
});

test('a panic in handle_request: 500 with the trap in the body, the panic in the log', async () => {
  const r = await get('/sleep/', { 'x-probe-panic': '1' });
  assert.equal(r.status, 500);
  assert.match(r.body, /^wasm error: unreachable\n/, 'Traefik writes the trap, stack and all');
  const log = await traefikLog();
  assert.match(log, /wasmexport: panic in export "handle_request": the probe was asked to panic at probe\/src\/lib\.rs/);
});
