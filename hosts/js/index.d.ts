// Types of wasmexport-host (index.mjs).

/** What an operation of an async import completes with when its Promise rejects: -1. */
export const REJECTED: -1;

/** What an async import's Promise may resolve with. */
export type AsyncResult =
  | number // completes the operation with this number as an i32, converted as wasm converts (a bytes future gets it as `Err(n)`)
  | boolean // as 0 or 1
  | undefined // as 0
  | null // as 0
  | Uint8Array // bytes: copied into a buffer the guest reserves, `Ok(bytes)` (`Err(length)` if its heap cannot hold them)
  | ArrayBuffer
  | SharedArrayBuffer
  | ArrayBufferView
  | string; // its UTF-8 bytes (a lone surrogate as U+FFFD)

/** An async import: receives the wasm arguments, returns (a Promise of) the operation's result. */
export type AsyncImport = (...args: any[]) => AsyncResult | PromiseLike<AsyncResult>;

/** A WASI implementation: Node's `node:wasi` `WASI`, or a shim with the same shape. */
export interface Wasi {
  /** The `wasi_snapshot_preview1` functions. */
  wasiImport?: Record<string, Function>;
  /** Node's way to get them, used when `wasiImport` is missing. */
  getImportObject?(): { wasi_snapshot_preview1: Record<string, Function> };
  /** Calls the module's `_initialize` (Node: also binds the memory). */
  initialize?(instance: WebAssembly.Instance): void;
  /** Binds the module's memory, where there is no `initialize` (Bun's `node:wasi`). */
  setMemory?(memory: WebAssembly.Memory): void;
}

/** A value, or a function of the host that makes it (to read the guest's memory in imports). */
export type OrHost<T> = T | ((host: Host) => T);

export interface Options {
  /** Plain imports, by module and name. */
  imports?: OrHost<Record<string, Record<string, Function | WebAssembly.Global | WebAssembly.Memory | WebAssembly.Table>>>;
  /**
   * Async imports, by module and name (functions, else `instantiate` throws a TypeError). Each becomes an import that calls the function with the
   * wasm arguments, returns a fresh token (a positive i32) to the guest at once, and completes the
   * operation with what the Promise settles to. Read arguments that point into memory before the
   * function's first `await`.
   */
  asyncImports?: OrHost<Record<string, Record<string, AsyncImport>>>;
  /** WASI, for a module that imports it: Node's `new WASI({ version: 'preview1' })`, or a shim. */
  wasi?: Wasi | null;
  /**
   * Told of each rejection of an async import (and of a result that is neither number nor
   * bytes, or bytes of a detached buffer). What it throws is dropped.
   */
  onRejection?: ((reason: unknown, importName: string) => void) | null;
  /** Told of the trap that killed the instance, once. What it throws is dropped. */
  onTrap?: ((error: unknown) => void) | null;
}

/** A live instance. */
export interface Host {
  readonly module: WebAssembly.Module;
  readonly instance: WebAssembly.Instance;
  /** The module's exported `memory`, or else the memory it imports, or null. */
  readonly memory: WebAssembly.Memory | null;
  /**
   * The module's exports except the protocol's (`wasmexport_drive`, `wasmexport_complete`,
   * `wasmexport_buffer`): a pending export returns a Promise of its result; other functions
   * return their result and throw once the instance is dead. A trap (or an exception an import
   * throws through the module) kills the instance; a call whose arguments wasm cannot convert
   * throws (rejects) before entering it and, when the library read the module's types from its
   * bytes, leaves it alive.
   */
  readonly exports: Readonly<Record<string, any>>;
  /** The error that killed the instance (a trap), or null while it lives. */
  readonly dead: unknown;
  /** How many pending-export calls wait for their result. */
  readonly pending: number;
  /** The `len` bytes at `ptr` of the guest's memory, decoded as UTF-8. */
  string(ptr: number, len: number): string;
  /** A copy of the `len` bytes at `ptr` of the guest's memory. */
  bytes(ptr: number, len: number): Uint8Array;
  /**
   * Runs every ready task and due timer now (`wasmexport_drive`) and schedules the host timer
   * for the next one; returns its milliseconds, or -1. Call it after a plain export that
   * started background work. Throws (the instance lives on) for a module without
   * `wasmexport_drive`.
   */
  drive(): number;
}

/**
 * Compiles (unless given a Module) and instantiates a wasmexport module, then initializes it
 * (`wasi.initialize`, or `wasi.setMemory` and `_initialize`). A Response compiles while it
 * streams when served as `application/wasm`, else it is read whole; one that is not `ok`
 * rejects, as does a source that is none of these.
 */
export function instantiate(
  source: WebAssembly.Module | BufferSource | Response | PromiseLike<WebAssembly.Module | BufferSource | Response>,
  options?: Options,
): Promise<Host>;
