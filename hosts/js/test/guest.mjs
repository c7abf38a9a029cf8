// Shared by the tests: the test guest (test/guest, built by `cargo xtask test`) instantiated
// through the library under node:wasi, with the guest's stderr captured in a file.
import { WASI } from 'node:wasi';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { instantiate } from '../index.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const guestPath =
  process.env.HOSTJS_GUEST_WASM ?? path.join(root, 'target/hosts-js/wasm32-wasip1/release/hostjs_guest.wasm');
if (!fs.existsSync(guestPath)) {
  throw new Error(`${guestPath} is missing: run these through \`cargo xtask test\`, which builds it`);
}
export const guestBytes = fs.readFileSync(guestPath);
export const guest = new WebAssembly.Module(guestBytes);

const unset = (name) => () => Promise.reject(new Error(`the test gave no ${name}`));

/// The guest, instantiated with `options` (asyncImports, imports, ...) and a node:wasi whose
/// stderr goes to a file: `host.stderr()` reads it. Async imports a test does not give reject.
/// The library is given the module's bytes (from which it reads the imports' types), or with
/// `options.compiled` the compiled `WebAssembly.Module` (whose imports' types JS cannot see).
export async function start(options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmexport-hostjs-'));
  const errFile = path.join(dir, 'stderr');
  const stderr = fs.openSync(errFile, 'w+');
  // Node and Deno write the guest's stderr to the descriptor given; Bun's WASI takes a callback.
  const sendStderr = (bytes) => fs.writeSync(stderr, bytes);
  const wasi = new WASI({ version: 'preview1', stderr, sendStderr, returnOnExit: true });
  const asyncImports = (h) => {
    const given = (typeof options.asyncImports === 'function' ? options.asyncImports(h) : options.asyncImports) ?? {};
    return { ...given, host: { value: unset('host.value'), fetch: unset('host.fetch'), ...given.host } };
  };
  const host = await instantiate(options.compiled ? guest : guestBytes, { wasi, ...options, asyncImports });
  host.stderr = () => fs.readFileSync(errFile, 'utf8');
  return host;
}

/// A promise of `value` after `ms` milliseconds.
export const after = (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms));

/// `promise`, or a rejection once test context `t` is aborted (its timeout): a test that holds
/// a server or an interval then still reaches its `finally` and lets the process exit.
export function within(t, promise) {
  return Promise.race([
    promise,
    new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(t.signal.reason), { once: true })),
  ]);
}

/// 32-bit FNV-1a, as the guest computes it.
export function fnv1a(bytes) {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

const encoder = new TextEncoder();

/// Calls export `name` with `args`, a string among them passed as a pointer and a length into
/// a buffer of the guest's `alloc`, freed once the call returns (a pending call copies it).
export function call(host, name, ...args) {
  const flat = [];
  const lent = [];
  for (const a of args) {
    if (typeof a !== 'string') {
      flat.push(a);
      continue;
    }
    const bytes = encoder.encode(a);
    const ptr = host.exports.alloc(bytes.length);
    new Uint8Array(host.memory.buffer, ptr, bytes.length).set(bytes);
    flat.push(ptr, bytes.length);
    lent.push([ptr, bytes.length]);
  }
  try {
    return host.exports[name](...flat);
  } finally {
    if (!host.dead) for (const [ptr, len] of lent) host.exports.dealloc(ptr, len);
  }
}
