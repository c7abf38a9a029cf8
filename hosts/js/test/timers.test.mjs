// The guest's timers fire through the host's setTimeout: nothing blocks in poll_oneoff, other
// JS runs meanwhile, and a timer alone does not keep the process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, guestPath, start } from './guest.mjs';

/// Counts the library's setTimeout calls while `f` runs (it looks the global up at each call).
async function countingTimeouts(f) {
  const real = globalThis.setTimeout;
  let count = 0;
  globalThis.setTimeout = (...args) => {
    count++;
    return real(...args);
  };
  try {
    await f();
  } finally {
    globalThis.setTimeout = real;
  }
  return count;
}

test('a guest sleep fires through setTimeout, on time, without blocking the event loop', async () => {
  const host = await start();
  let ticks = 0;
  const interval = setInterval(() => ticks++, 2);
  try {
    let took, result;
    const timeouts = await countingTimeouts(async () => {
      const t0 = performance.now();
      const call = host.exports.sleep_ms(60);
      const returnedIn = performance.now() - t0;
      assert.ok(returnedIn < 30, `the call returned after ${returnedIn} ms: it blocked`);
      result = await call;
      took = performance.now() - t0;
    });
    assert.equal(result, 60);
    assert.ok(took >= 60, `resolved after ${took} ms, before the sleep's 60 ms`);
    assert.ok(took < 2_000, `resolved after ${took} ms`);
    assert.ok(ticks >= 5, `only ${ticks} interval ticks ran during a 60 ms sleep`);
    assert.ok(timeouts >= 1, 'no setTimeout was scheduled for the guest timer');
  } finally {
    clearInterval(interval);
  }
});

test('many guest sleeps share one timer and each resolves after its own duration', async () => {
  const host = await start();
  const t0 = performance.now();
  const done = [];
  const calls = [40, 10, 30, 20, 10, 0].map((ms) =>
    host.exports.sleep_ms(ms).then((v) => done.push([v, performance.now() - t0])),
  );
  await Promise.all(calls);
  assert.deepEqual(done.map(([v]) => v), [0, 10, 10, 20, 30, 40]);
  for (const [ms, at] of done) assert.ok(at >= ms, `the ${ms} ms sleep resolved after ${at} ms`);
});

test('a background task ticks on the host timer after drive()', async () => {
  const host = await start();
  host.exports.start_ticker(5);
  assert.equal(host.exports.ticks(), 0, 'nothing runs behind the host: not even the first tick');
  const next = host.drive();
  assert.ok(next >= 0 && next <= 5, `drive returned ${next}`);
  await after(80);
  const ticks = host.exports.ticks();
  assert.ok(ticks >= 3, `${ticks} ticks in 80 ms of a 5 ms ticker`);
});

test('an armed timer does not keep the process alive once nothing is pending', () => {
  const script = `
    import { WASI } from 'node:wasi';
    import fs from 'node:fs';
    import { instantiate } from ${JSON.stringify(new URL('../index.mjs', import.meta.url).href)};
    const wasi = new WASI({ version: 'preview1', returnOnExit: true });
    const never = () => new Promise(() => {});
    const asyncImports = { host: { value: never, fetch: never } };
    const host = await instantiate(fs.readFileSync(${JSON.stringify(guestPath)}), { wasi, asyncImports });
    host.exports.start_ticker(50);     // a timer armed forever
    host.drive();
    console.log(await host.exports.sleep_ms(20)); // pending until the host's timer fires
  `;
  const t0 = performance.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 10_000,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.equal(child.error, undefined, `the process did not exit: ${child.error}`);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), '20', 'the pending sleep kept the process alive until it resolved');
  assert.ok(performance.now() - t0 < 8_000);
});
