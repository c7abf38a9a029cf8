// The guest's timers fire through the host's setTimeout: nothing blocks in poll_oneoff, other
// JS runs meanwhile, and a timer alone does not keep the process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, guestPath, start, within } from './guest.mjs';

const limit = { timeout: 30_000 }; // a hung test fails instead of holding up the run

/// Runs `f` with setTimeout and clearTimeout watched (the library looks them up at each call):
/// how many timers were set, and the most that were armed at once.
async function watchTimers(f) {
  const [realSet, realClear] = [globalThis.setTimeout, globalThis.clearTimeout];
  const armed = new Set();
  const seen = { set: 0, most: 0 };
  globalThis.setTimeout = (callback, ms, ...args) => {
    const handle = realSet(
      (...a) => {
        armed.delete(handle);
        callback(...a);
      },
      ms,
      ...args,
    );
    armed.add(handle);
    seen.set++;
    seen.most = Math.max(seen.most, armed.size);
    return handle;
  };
  globalThis.clearTimeout = (handle) => {
    armed.delete(handle);
    realClear(handle);
  };
  try {
    await f();
  } finally {
    [globalThis.setTimeout, globalThis.clearTimeout] = [realSet, realClear];
  }
  return seen;
}

test('a guest sleep fires through setTimeout, on time, without blocking the event loop', limit, async (t) => {
  const host = await start();
  let ticks = 0;
  const interval = setInterval(() => ticks++, 2);
  try {
    let took, result;
    const timers = await watchTimers(async () => {
      const t0 = performance.now();
      const call = host.exports.sleep_ms(60);
      const returnedIn = performance.now() - t0;
      assert.ok(returnedIn < 30, `the call returned after ${returnedIn} ms: it blocked`);
      result = await within(t, call);
      took = performance.now() - t0;
    });
    assert.equal(result, 60);
    assert.ok(took >= 60, `resolved after ${took} ms, before the sleep's 60 ms`);
    assert.ok(took < 2_000, `resolved after ${took} ms`);
    assert.ok(ticks >= 5, `only ${ticks} interval ticks ran during a 60 ms sleep`);
    assert.ok(timers.set >= 1, 'no setTimeout was scheduled for the guest timer');
  } finally {
    clearInterval(interval);
  }
});

test('many guest sleeps share one host timer and each resolves after its own duration', limit, async () => {
  const host = await start();
  const done = [];
  const timers = await watchTimers(async () => {
    const t0 = performance.now();
    const calls = [40, 10, 30, 20, 10, 0, 25].map((ms) =>
      host.exports.sleep_ms(ms).then((v) => done.push([v, performance.now() - t0])),
    );
    await Promise.all(calls);
  });
  assert.deepEqual(
    done.map(([v]) => v),
    [0, 10, 10, 20, 25, 30, 40],
  );
  for (const [ms, at] of done) assert.ok(at >= ms, `the ${ms} ms sleep resolved after ${at} ms`);
  assert.equal(timers.most, 1, 'more than one host timer was armed at once');
  assert.ok(timers.set >= 2, `${timers.set} host timers for sleeps of 5 lengths`);
});

test('a background task ticks on the host timer after drive()', limit, async () => {
  const host = await start();
  host.exports.start_ticker(5);
  assert.equal(host.exports.ticks(), 0, 'nothing runs behind the host: not even the first tick');
  const next = host.drive();
  assert.ok(next >= 0 && next <= 5, `drive returned ${next}`);
  await after(80);
  const ticks = host.exports.ticks();
  assert.ok(ticks >= 3, `${ticks} ticks in 80 ms of a 5 ms ticker`);
});

/// Runs `script` (an ES module) in a child process of the runtime running the tests (Node, Bun
/// or Deno, which reads only what it must) and returns its status, output and running time.
function runChild(script) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmexport-hostjs-child-'));
  const file = path.join(dir, 'child.mjs');
  fs.writeFileSync(file, script);
  const here = fileURLToPath(new URL('..', import.meta.url));
  const [exe, args] = globalThis.Deno
    ? [globalThis.Deno.execPath(), ['run', `--allow-read=${[dir, here, guestPath].join(',')}`, file]]
    : [process.execPath, [file]];
  const t0 = performance.now();
  try {
    const child = spawnSync(exe, args, { encoding: 'utf8', timeout: 10_000 });
    return { ...child, ms: performance.now() - t0 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/// The child's preamble: the guest instantiated under node:wasi, its host operations never
/// completing.
const preamble = `
  import { WASI } from 'node:wasi';
  import fs from 'node:fs';
  import { instantiate } from ${JSON.stringify(new URL('../index.mjs', import.meta.url).href)};
  const wasi = new WASI({ version: 'preview1', returnOnExit: true });
  const never = () => new Promise(() => {});
  const asyncImports = { host: { value: never, fetch: never } };
  const host = await instantiate(fs.readFileSync(${JSON.stringify(guestPath)}), { wasi, asyncImports });
`;

test('an armed timer does not keep the process alive once nothing is pending', limit, () => {
  const child = runChild(`${preamble}
    host.exports.start_ticker(50);     // a timer armed forever
    host.drive();
    console.log(await host.exports.sleep_ms(20)); // pending until the host's timer fires
  `);
  assert.equal(child.error, undefined, `the process did not exit: ${child.error}`);
  assert.equal(child.status, 0, child.stderr || `the child did not run: ${JSON.stringify(child)}`);
  assert.equal(child.stdout.trim(), '20', 'the pending sleep kept the process alive until it resolved');
  assert.ok(child.ms < 8_000, `the process took ${child.ms} ms`);
});

test('a background task sleeping for an hour does not hold the process open', limit, () => {
  const child = runChild(`${preamble}
    host.exports.start_ticker(3_600_000);
    console.log(host.drive());         // the host's timer, armed for the hour
  `);
  assert.equal(child.error, undefined, `the process did not exit: ${child.error}`);
  assert.equal(child.status, 0, child.stderr || `the child did not run: ${JSON.stringify(child)}`);
  assert.equal(child.stdout.trim(), '3600000');
  assert.ok(child.ms < 8_000, `the process took ${child.ms} ms`);
});
