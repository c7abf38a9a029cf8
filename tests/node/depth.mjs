// How deep the guests re-enter through a JS import before Node's stack runs out: a raw
// `extern "C"` export (`raw`), a `#[wasmexport] fn` and a `#[wasmexport] async fn` (`exec`),
// release and debug builds. Not a test (the numbers depend on Node and its stack size): the
// table of re-entry depths in runtime/docs/host-imports.md comes from it. Build both profiles first:
//
//   cargo build --target wasm32-wasip1 --manifest-path tests/guests/Cargo.toml --target-dir target/wasm -p raw -p exec [--release]
//   WASMEXPORT_WASM_DIR=$PWD/target/wasm node tests/node/depth.mjs
import { module, reactor, wasmDir } from './wasi.mjs';

function depth(dir, guest, exportName) {
  let now = 0;
  let max = 0;
  const nested = (name) => (n) => {
    now += 1;
    max = Math.max(max, now);
    try {
      return self.exports[name](n);
    } finally {
      now -= 1;
    }
  };
  let self;
  const g = reactor(module(dir, guest), (s) => {
    self = s;
    return { test: { reenter: nested('recurse'), reenter_async: nested('recurse_async') } };
  });
  try {
    g.exports[exportName](1_000_000);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  return max;
}

console.log(`Node ${process.version}, default stack`);
console.log('| build | raw `extern "C"` | `#[wasmexport] fn` | `#[wasmexport] async fn` |');
console.log('|---|---|---|---|');
for (const profile of ['release', 'debug']) {
  const dir = `${wasmDir}/wasm32-wasip1/${profile}`;
  const raw = depth(dir, 'raw', 'recurse');
  const cell = (n) => `${n.toLocaleString('en')} (${Math.round((100 * n) / raw)}%)`;
  const sync = depth(dir, 'exec', 'recurse');
  const async_ = depth(dir, 'exec', 'recurse_async');
  console.log(`| ${profile} | ${raw.toLocaleString('en')} | ${cell(sync)} | ${cell(async_)} |`);
}
