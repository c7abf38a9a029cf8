// The executor's guarantees under Node's node:wasi: timers are not starved by a call that keeps
// yielding, and calls leave nothing queued behind them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { module, reactor, wasmDir } from './wasi.mjs';

const guests = `${wasmDir}/wasm32-wasip1/release`;

/// Calls `name(...args)` in a worker; rejects if it has not returned within `limitMs`.
function callInWorker(name, args, limitMs) {
  const worker = new Worker(new URL('./exec-worker.mjs', import.meta.url), {
    workerData: { dir: guests, export: name, args },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`${name} did not return within ${limitMs} ms`));
    }, limitMs);
    worker.once('message', (m) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(m);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('a call that keeps yielding does not starve a timer', async () => {
  const { result, ms } = await callInWorker('yield_until_timer', [20], 10_000);
  assert.equal(result, 7);
  assert.ok(ms >= 19.5 && ms < 5_000, `took ${ms} ms`);
});

test('a timer due between two calls runs before a yield resumes', async () => {
  const g = reactor(module(guests, 'exec'));
  g.exports.arm_timer(5);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(g.exports.yield_sees_timer(), 1);
});

test('each wake polls a call at most once; nothing stays queued', () => {
  const g = reactor(module(guests, 'exec'));
  assert.equal(g.exports.futures_unordered(), 3);
  assert.equal(g.exports.polls_while_waiting(), 2);
  assert.equal(g.exports.keep_waker(), 1);
  assert.equal(g.exports.polls_with_stale_wake(), 2);
  for (let i = 0; i < 1000; i++) g.exports.self_wake_ready();
  const pages = g.exports.memory.buffer.byteLength;
  const live = g.exports.live_bytes();
  for (let i = 0; i < 100_000; i++) g.exports.self_wake_ready();
  assert.equal(g.exports.memory.buffer.byteLength, pages);
  assert.equal(g.exports.live_bytes(), live);
  assert.equal(g.exports.polls_while_waiting(), 2);
});

test('task outputs of every size and alignment come back whole, and are dropped once', () => {
  const g = reactor(module(guests, 'exec'));
  for (const seed of [0, 1, 200, 0x7fffffff]) {
    assert.equal(g.instance.exports.task_outputs(seed), 0, `seed ${seed}`);
  }
  assert.equal(g.instance.exports.output_drops(), 1123);
  assert.equal(g.instance.exports.tasks(), 1);
});
