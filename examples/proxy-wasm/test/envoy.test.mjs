// The auth filter (../filter, on wasmexport-proxy) in a real Envoy: one worker, so one VM
// instance serves every request of a listener's VM id. An upstream that echoes what it got and
// an auth service run in this process; `cargo xtask test` sets ENVOY_BIN and
// PROXY_WASM_FILTER.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FILTER, cluster, listener, request, route, server, startEnvoy, wasmFilter } from './envoy.mjs';

let upstream, auth, envoy;
const url = (name, path) => `http://127.0.0.1:${envoy.ports[name]}${path}`;
const echoed = (response) => JSON.parse(response.body);
/** Waits (up to 5 s) for Envoy's log to have a line matching `re`: its output comes later. */
async function logged(re) {
  for (let i = 0; i < 100 && !re.test(envoy.log()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(envoy.log(), re);
}

before(async () => {
  upstream = await server((req, body) => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: req.url, headers: req.headers, body, trailers: req.trailers }),
  }));
  // `Bearer USER:ok` is USER; any other token is refused.
  auth = await server((req) => {
    const m = /^Bearer (\w+):ok$/.exec(req.headers.authorization ?? '');
    return m ? { headers: { 'x-user': m[1] } } : { status: 403 };
  });
  const filter = (vmId, name, options = {}) => wasmFilter({ wasm: FILTER, vmId, name, ...options });
  const toUpstream = [route('upstream')];
  envoy = await startEnvoy({
    listeners: [
      listener('main', [filter('main', 'main', { configuration: 'ttl_ms=60000' })], toUpstream),
      // A second plugin configuration in the same VM: no cache, a callout per request.
      listener('nocache', [filter('main', 'nocache', { configuration: 'ttl_ms=0' })], toUpstream),
      // Callouts to a cluster Envoy does not have.
      listener('nowhere', [filter('main', 'nowhere', { configuration: 'cluster=nowhere' })], toUpstream),
      // A background task that wakes every 50 ms, in a VM of its own.
      listener('heartbeat', [filter('heartbeat', 'heartbeat', { configuration: 'heartbeat_ms=50' })], toUpstream),
      listener('closed', [filter('closed', 'closed')], toUpstream),
      listener('open', [filter('open', 'open', { failOpen: true })], toUpstream),
      listener('reload', [filter('reload', 'reload', { failurePolicy: 'FAIL_RELOAD' })], toUpstream),
    ],
    clusters: [cluster('upstream', upstream.port), cluster('auth', auth.port)],
  });
});

after(async () => {
  // ENVOY_LOG=1 shows Envoy's Wasm log lines (the module's stderr among them).
  if (process.env.ENVOY_LOG) console.log(envoy?.log().split('\n').filter((l) => /\[wasm\]/.test(l)).join('\n'));
  await envoy?.stop();
  await upstream?.stop();
  await auth?.stop();
});

test('pass-through: /public goes upstream untouched', async () => {
  const r = await request(url('main', '/public/a?b=1'), { headers: { 'x-keep': 'me' } });
  assert.equal(r.status, 200);
  const got = echoed(r);
  assert.equal(got.path, '/public/a?b=1');
  assert.equal(got.headers['x-keep'], 'me');
  assert.equal(got.headers['x-auth-user'], undefined);
});

test('an awaited callout that allows: x-auth-user goes upstream, the verdict is cached', async () => {
  const calls = auth.requests;
  const headers = { authorization: 'Bearer alice:ok', 'x-auth-user': 'spoofed' };
  const first = await request(url('main', '/api/1'), { headers });
  assert.equal(first.status, 200, first.body);
  assert.equal(echoed(first).headers['x-auth-user'], 'alice', 'set, replacing the client\'s');
  assert.equal(echoed(first).headers.authorization, undefined, 'removed');
  assert.equal(auth.requests, calls + 1, 'one callout');
  const second = await request(url('main', '/api/2'), { headers });
  assert.equal(echoed(second).headers['x-auth-user'], 'alice');
  assert.equal(auth.requests, calls + 1, 'the second request used the cache');
  // Without the cache every request calls out.
  await request(url('nocache', '/api/3'), { headers });
  await request(url('nocache', '/api/4'), { headers });
  assert.equal(auth.requests, calls + 3);
});

test('an awaited callout that denies: a 403 local reply, the upstream never sees it', async () => {
  const seen = upstream.requests;
  const denied = await request(url('main', '/api/x'), { headers: { authorization: 'Bearer mallory' } });
  assert.equal(denied.status, 403);
  assert.equal(denied.body, 'denied\n');
  const none = await request(url('main', '/api/x'));
  assert.equal(none.status, 403);
  assert.equal(none.body, 'no token\n');
  assert.equal(upstream.requests, seen);
});

test('a handler that fails: a callout to a cluster Envoy lacks is answered 500, and logged', async () => {
  const seen = upstream.requests;
  const r = await request(url('nowhere', '/api/x'), { headers: { authorization: 'Bearer alice:ok' } });
  assert.equal(r.status, 500);
  assert.equal(r.body, 'filter error\n');
  assert.equal(upstream.requests, seen);
  await logged(/request handler failed: the host refused the call \(proxy-wasm status 2\)/);
});

test('a local reply from the filter', async () => {
  const seen = upstream.requests;
  const r = await request(url('main', '/local'));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'local reply\n');
  assert.equal(r.headers['x-local'], 'yes');
  assert.equal(upstream.requests, seen);
});

test('a timer: /sleep continues the paused request after its duration, blocking nothing', async () => {
  const slow = request(url('main', '/sleep/400'), { keepAlive: false, headers: { 'x-slept-ms': 'client' } });
  await new Promise((r) => setTimeout(r, 100));
  // Envoy's one worker serves this while the other request sleeps: a wait in poll_oneoff
  // would hold the worker, and this answer would come after the slow one.
  const order = [];
  const fast = request(url('main', '/public/fast'), { keepAlive: false }).then((r) => {
    order.push('fast');
    return r;
  });
  const slept = await slow.then((r) => {
    order.push('slow');
    return r;
  });
  assert.equal((await fast).status, 200);
  assert.deepEqual(order, ['fast', 'slow']);
  assert.equal(slept.status, 200);
  assert.equal(echoed(slept).headers['x-slept-ms'], 'client, 400', 'added to the client\'s');
  assert.ok(slept.ms >= 400, `answered after ${slept.ms} ms`);
});

test('a background task: its timer fires from ticks, with no request in flight', async () => {
  const beats = async () => Number((await request(url('heartbeat', '/heartbeats'))).body);
  const first = await beats();
  // Started with the plugin's configuration, not with this first request (which comes after
  // the tests above, a second or more later).
  assert.ok(first > 0, 'the task had not run before the first request');
  // No request reaches that VM meanwhile: only proxy_on_tick can run the task.
  await new Promise((r) => setTimeout(r, 2000));
  const later = await beats();
  assert.ok(later >= first + 2, `woke ${later - first} times in 2 s (every 50 ms asked)`);
});

test("Envoy's poll_oneoff returns at once, with no event, for a 1 s clock wait", async () => {
  // Why nothing in the library waits, and timers fire from ticks. (std::thread::sleep then
  // returns at once or panics, as wasi-libc reads an event that was never written.)
  const r = await request(url('main', '/poll-oneoff'));
  assert.equal(r.status, 200);
  const got = Object.fromEntries(r.body.split(' ').map((kv) => kv.split('=')));
  assert.deepEqual([got.errno, got.events, got.event_written], ['0', '0', 'false'], r.body);
  assert.ok(Number(got.us) < 1_000_000, `waited ${got.us} us`);
});

test('the body: awaited by the handler, refused with a 403 or let through intact', async () => {
  const ok = await request(url('main', '/body'), { method: 'POST', body: 'hello body' });
  assert.equal(ok.status, 200);
  assert.equal(echoed(ok).body, 'hello body');
  const seen = upstream.requests;
  const refused = await request(url('main', '/body'), { method: 'POST', body: 'forbidden' });
  assert.equal(refused.status, 403);
  assert.equal(refused.body, 'body refused\n');
  assert.equal(upstream.requests, seen);
  // In chunks: Envoy buffers them until the last, and the handler gets the whole body.
  const chunked = await request(url('main', '/body'), { method: 'POST', body: ['hello ', 'in ', 'chunks'] });
  assert.equal(echoed(chunked).body, 'hello in chunks');
  const split = await request(url('main', '/body'), { method: 'POST', body: ['forb', 'idd', 'en'] });
  assert.equal(split.status, 403);
  assert.equal(upstream.requests, seen + 1);
  // Trailers end the request: the body is the handler's then, and the trailers go on too.
  const trailed = await request(url('main', '/body'), {
    method: 'POST',
    headers: { te: 'trailers' },
    body: ['with ', 'trailers'],
    trailers: { 'x-trailer': 'end' },
  });
  assert.equal(echoed(trailed).body, 'with trailers');
  assert.equal(echoed(trailed).trailers['x-trailer'], 'end');
  const refusedWithTrailers = await request(url('main', '/body'), {
    method: 'POST',
    body: ['forbid', 'den'],
    trailers: { 'x-trailer': 'end' },
  });
  assert.equal(refusedWithTrailers.status, 403);
});

test('200 overlapping requests, each answered by its own handler', async () => {
  // Each waits at a gate until all 200 wait there, so all 200 handlers are suspended at
  // once; then each reads its own request's x-id (while another request's callback runs).
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    request(url('main', '/gate/200'), { headers: { 'x-id': `r${i}` }, keepAlive: false })));
  answers.forEach((r, i) => {
    assert.equal(r.status, 200);
    const got = echoed(r).headers;
    assert.equal(got['x-id'], `r${i}`);
    assert.equal(got['x-seen-id'], `r${i}`, `request ${i} got another task's answer`);
  });
});

test('a client that goes away: its sleeping handler is dropped', async () => {
  const count = async () => Number((await request(url('main', '/tasks'))).body);
  const before = await count();
  const gone = Array.from({ length: 20 }, () => new Promise((resolve) => {
    const r = request(url('main', '/sleep/60000'), { keepAlive: false, abortAfterMs: 200 });
    r.then(resolve, resolve);
  }));
  await Promise.all(gone);
  // Envoy deletes the streams as it notices the closed connections.
  let now;
  for (let i = 0; i < 100 && (now = await count()) !== before; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(now, before, 'the handlers of the requests that went away are gone');
});

test('linear memory stays flat over 10,000 requests', async () => {
  const mix = [
    () => request(url('main', '/public/m')),
    () => request(url('main', '/api/m'), { headers: { authorization: 'Bearer bob:ok' } }),
    () => request(url('main', '/api/m'), { headers: { authorization: 'Bearer eve' } }),
    () => request(url('nocache', '/api/m'), { headers: { authorization: 'Bearer carol:ok' } }),
    () => request(url('main', '/local')),
    () => request(url('main', '/body'), { method: 'POST', body: 'x'.repeat(300) }),
    () => request(url('main', '/sleep/0')),
  ];
  let next = 0;
  const load = async (n) => {
    const end = next + n;
    const worker = async () => {
      while (next < end) {
        const r = await mix[next++ % mix.length]();
        assert.ok(r.status === 200 || r.status === 403, `status ${r.status}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  };
  const pages = async () => Number((await request(url('main', '/memory'))).headers['x-wasm-memory-pages']);
  await load(1000);
  const early = await pages();
  await load(9000);
  const late = await pages();
  assert.ok(early > 0);
  assert.equal(late, early, `memory grew from ${early} to ${late} pages between 1,000 and 10,000 requests`);
});

test('a panic in a handler fails the VM: closed, open or reloaded as the plugin says', async () => {
  // fail_open false (the default): the request that panicked and every later one on that VM
  // get a 503 from Envoy.
  assert.equal((await request(url('closed', '/public/a'))).status, 200);
  assert.equal((await request(url('closed', '/panic'))).status, 503);
  for (const path of ['/public/b', '/local']) {
    const r = await request(url('closed', path));
    assert.equal(r.status, 503, path);
    assert.equal(r.body, '');
  }
  // fail_open true: they go upstream as if there were no filter (no local reply any more).
  const panicked = await request(url('open', '/panic'));
  assert.equal(panicked.status, 200);
  assert.equal(echoed(panicked).path, '/panic');
  assert.equal(echoed(await request(url('open', '/local'))).path, '/local');
  // failure_policy FAIL_RELOAD: 503 until Envoy has loaded a fresh VM, then filtered again.
  assert.equal((await request(url('reload', '/panic'))).status, 503);
  let r;
  for (let i = 0; i < 200; i++) {
    r = await request(url('reload', '/local'));
    if (r.status !== 503) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(r.status, 200);
  assert.equal(r.body, 'local reply\n');
  // The other VMs never noticed.
  assert.equal((await request(url('main', '/local'))).body, 'local reply\n');
  // The handler panics in its first poll, which the headers callback makes itself.
  await logged(/wasmexport: panic in export "proxy_on_request_headers": the \/panic route panics/);
});
