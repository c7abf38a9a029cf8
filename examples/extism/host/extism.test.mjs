// The extism-filter plugin (examples/extism/guest) in Extism's JS SDK, @extism/extism, under
// Node: `cargo xtask test` installs the SDK from package-lock.json and runs this file with
// EXTISM_FILTER_WASM set to the plugin's path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import createPlugin from '@extism/extism';

const wasmPath = process.env.EXTISM_FILTER_WASM;
if (!wasmPath) throw new Error('EXTISM_FILTER_WASM is not set: run this through `cargo xtask test`');
const wasm = fs.readFileSync(wasmPath);

/// A plugin with WASI on (the module is a WASI reactor) and a logger that keeps the lines.
async function plugin(config = {}) {
  const logs = [];
  const logger = Object.fromEntries(
    ['debug', 'info', 'warn', 'error'].map((level) => [level, (line) => logs.push(`${level}: ${line}`)]),
  );
  const p = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: true, logger, config });
  p.logs = () => logs.splice(0);
  return p;
}

const TEXT = 'hello\nbuy SPAM now\nworld\nads here\n';

test('filter: input, output, config and logs through the kernel imports; state kept between calls', async () => {
  const p = await plugin({ deny: 'spam, Ads' });
  assert.equal((await p.call('filter', TEXT)).text(), 'hello\nworld\n');
  assert.deepEqual(p.logs(), ['info: filter: kept 2 of 4 lines', 'warn: filter: dropped 2 lines']);
  assert.equal((await p.call('filter', 'no ads\nfine')).text(), 'fine\n');
  assert.equal((await p.call('stats')).text(), 'calls=2 kept=3 dropped=3');
  await p.close();
});

test('filter fans lines out to background tasks whose waits overlap, blocked in poll_oneoff', async () => {
  const p = await plugin({ delay_ms: '50' });
  const text = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n');
  const start = performance.now();
  const cpu = process.cpuUsage();
  assert.equal((await p.call('filter', text)).text(), `${text}\n`);
  const wall = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  // 20 checks of 50 ms each, overlapping: about 50 ms, far from 1,000.
  assert.ok(wall >= 49 && wall < 500, `took ${wall} ms`);
  assert.ok((user + system) / 1000 < wall / 2, `CPU ${(user + system) / 1000} ms for ${wall} ms`);
  await p.close();
});

test('thousands of calls that spawn tasks keep the plugin\'s memory flat', async () => {
  const p = await plugin({ deny: 'b' });
  const memory = (await p.getInstance()).exports.memory;
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      assert.equal((await p.call('filter', 'a\nb\nc')).text(), 'a\nc\n');
      // The SDK numbers its blocks (input, output, config values, log lines) per plugin and
      // reuses none until reset(); past 32,768 the numbers overflow (`cannot assign to this
      // block`). reset() keeps the instance, so the plugin's state stays.
      await p.reset();
    }
  };
  await run(200);
  const before = memory.buffer.byteLength;
  await run(5000);
  assert.equal(memory.buffer.byteLength, before);
  assert.equal((await p.call('stats')).text(), 'calls=5200 kept=10400 dropped=5200');
  await p.close();
});

test('an async export that sleeps 50 ms in a task takes its time, not the CPU', async () => {
  const p = await plugin();
  await p.call('sleep_ms', '5'); // warm-up
  const start = performance.now();
  const cpu = process.cpuUsage();
  await p.call('sleep_ms', '50');
  const wall = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  assert.ok(wall >= 49 && wall < 1000, `took ${wall} ms`);
  assert.ok((user + system) / 1000 < 25, `CPU ${(user + system) / 1000} ms`);
  await p.close();
});

test('a missed deadline fails the call with the error the plugin set; the plugin goes on', async () => {
  const p = await plugin({ delay_ms: '300', deadline_ms: '30' });
  await assert.rejects(
    p.call('filter', 'a\nb'),
    { message: 'Plugin-originated error: filter: the checks of 2 lines took longer than 30ms' },
  );
  assert.equal((await p.call('stats')).text(), 'calls=1 kept=0 dropped=0');
  await assert.rejects(p.call('sleep_ms', 'soon'), /sleep_ms: the input "soon" is not a number/);
  await p.close();
});

test('a panic and the call after it reach the host through the trap reporter', async () => {
  const p = await plugin();
  // The SDK rethrows the trap itself and drops what error_set held: the line reaches the
  // host through the logger.
  await assert.rejects(p.call('crash', 'oh no'), WebAssembly.RuntimeError);
  const [panic, ...rest] = p.logs();
  assert.deepEqual(rest, []);
  assert.match(panic, /^error: wasmexport: panic in export "crash": oh no at src\/lib\.rs:\d+:\d+; the instance is poisoned/);

  await assert.rejects(p.call('stats'), WebAssembly.RuntimeError);
  assert.deepEqual(p.logs(), [
    'error: wasmexport: module poisoned by an earlier panic: export "stats" cannot run; create a new instance',
  ]);
  // reset() keeps the instance, so it stays poisoned; a new plugin is what works again.
  assert.equal(await p.reset(), true);
  await assert.rejects(p.call('stats'), WebAssembly.RuntimeError);
  await p.close();
  const fresh = await plugin();
  assert.equal((await fresh.call('stats')).text(), 'calls=0 kept=0 dropped=0');
  await fresh.close();
});

test('the plugin needs WASI', async () => {
  await assert.rejects(createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false }), /wasi_snapshot_preview1/);
});
