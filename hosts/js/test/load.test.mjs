// Many calls in flight on one instance: JS timers, loopback HTTP and guest timers at once while
// the event loop keeps serving other calls; memory flat over 1,000,000 pending round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, call, start, within } from './guest.mjs';

const limit = { timeout: 120_000 }; // a hung test fails instead of holding up the run

/// GETs `url` through `agent` and resolves with the body.
function get(url, agent) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('1,000 pending calls await JS timers, loopback HTTP and guest timers while other calls go on', limit, async (t) => {
  // The server answers /N with 2N.
  const server = http.createServer((req, res) => res.end(String(2 * Number(req.url.slice(1)))));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const interval = { id: null };
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const host = await start({
      asyncImports: (h) => ({
        host: {
          value: (x) => after(Math.floor(Math.random() * 20), 3 * x), // a JS timer
          fetch: (ptr, len) => get(h.string(ptr, len), agent), // loopback HTTP
        },
      }),
    });
    const before = host.exports.tasks();
    let answered = 0;
    let maxPending = 0;
    interval.id = setInterval(() => {
      maxPending = Math.max(maxPending, host.pending);
      for (let i = 0; i < 10; i++) assert.equal(host.exports.add(answered, i), answered + i);
      answered++;
    }, 1);
    const N = 1_000;
    const calls = [];
    for (let i = 0; i < N; i++) calls.push(call(host, 'mixed', i, `${base}/${i}`, 1 + (i % 10)));
    assert.equal(host.pending, N, 'every call is pending at once');
    const results = await within(t, Promise.all(calls));
    clearInterval(interval.id);
    for (let i = 0; i < N; i++) assert.equal(results[i], 5 * i, `call ${i}`);
    assert.ok(answered >= 3, `plain calls answered while the pending ones waited: only ${answered}`);
    assert.ok(maxPending > N / 2, `the interval ran while ${maxPending} calls were pending at most`);
    assert.equal(host.pending, 0);
    assert.equal(host.exports.tasks(), before);
  } finally {
    clearInterval(interval.id);
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('linear memory stays flat over 1,000,000 pending round trips', limit, async () => {
  const host = await start({ asyncImports: { host: { value: (x) => x + 1 } } });
  const before = host.exports.tasks();
  const BATCH = 1_000;
  const batch = async (round) => {
    const calls = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) calls[i] = host.exports.value_plus_one(round + i);
    const results = await Promise.all(calls);
    for (let i = 0; i < BATCH; i++) if (results[i] !== round + i + 2) assert.fail(`round ${round}, call ${i}: ${results[i]}`);
  };
  await batch(0);
  const bytes = host.memory.buffer.byteLength;
  for (let round = 1; round < 1_000; round++) await batch(round);
  assert.equal(host.memory.buffer.byteLength, bytes, 'linear memory grew');
  assert.equal(host.exports.tasks(), before, 'tasks are left behind');
  assert.equal(host.pending, 0);
});
