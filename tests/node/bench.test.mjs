// The V8 half of `cargo xtask bench` (bench/node/bench.mjs) runs on the bench guests and
// reports a time for every figure: a quick pass, so that the harness keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmDir } from './wasi.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const guests = `${wasmDir}/wasm32-wasip1/release`;

test('the bench harness measures floor and ours under V8', () => {
  const config = { raw: `${guests}/raw.wasm`, ours: `${guests}/bench.wasm`, floor: `${guests}/floor_tasks.wasm` };
  const out = execFileSync(process.execPath, ['--no-warnings', path.join(here, '../../bench/node/bench.mjs'), JSON.stringify(config), '--quick']);
  const r = JSON.parse(out);
  for (const [figure, ids] of [['add', ['raw', 'ours']], ['roundtrip', ['floor', 'ours']], ['roundtrip_oneshot', ['ours']], ['instantiate_wasi', ['raw', 'ours']], ['instantiate_stubs', ['raw', 'ours']]]) {
    for (const id of ids) assert.ok(r[figure][id].ns > 0, `${figure} ${id}: ${JSON.stringify(r[figure][id])}`);
  }
  assert.deepEqual(r.imports.raw, []);
  assert.ok(r.imports.ours.includes('fd_write'));
  for (const name of r.imports.ours) assert.equal(typeof r.import_cost[name].wasi, 'number', name);
});
