// Shared by the Node tests: instantiate a guest under node:wasi with stdout and stderr captured
// in files, and the imports a test supplies.
import { WASI } from 'node:wasi';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const wasmDir = process.env.WASMEXPORT_WASM_DIR;
if (!wasmDir) throw new Error('WASMEXPORT_WASM_DIR is not set: run these through `cargo xtask test`');

const modules = new Map();

export function module(dir, name) {
  const file = path.join(dir, `${name}.wasm`);
  if (!modules.has(file)) modules.set(file, new WebAssembly.Module(fs.readFileSync(file)));
  return modules.get(file);
}

/// `imports(self)` returns extra import modules; `self.instance` is set once instantiated, so
/// host functions can call back into the instance (re-entrant calls).
export function instantiate(mod, imports = () => ({})) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmexport-'));
  const outFile = path.join(tmp, 'stdout');
  const errFile = path.join(tmp, 'stderr');
  const stdout = fs.openSync(outFile, 'w+');
  const stderr = fs.openSync(errFile, 'w+');
  const wasi = new WASI({ version: 'preview1', stdout, stderr, returnOnExit: true });
  const self = { wasi, instance: null };
  const extra = imports(self);
  const declared = WebAssembly.Module.imports(mod);
  // Imports a test does not provide throw if called, so one guest serves many tests.
  const all = { wasi_snapshot_preview1: wasi.wasiImport, ...extra };
  for (const { module: m, name } of declared) {
    all[m] ??= {};
    all[m][name] ??= () => { throw new Error(`import ${m}.${name} not provided`); };
  }
  self.instance = new WebAssembly.Instance(mod, all);
  self.exports = self.instance.exports;
  self.stdout = () => fs.readFileSync(outFile, 'utf8');
  self.stderr = () => fs.readFileSync(errFile, 'utf8');
  return self;
}

/// `instantiate`, then `wasi.initialize`, as a host starts a reactor.
export function reactor(mod, imports) {
  const g = instantiate(mod, imports);
  g.wasi.initialize(g.instance);
  return g;
}
