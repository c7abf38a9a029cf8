// wasmexport-host's reading of a module: compiling it from what the caller gives, and what
// JavaScript's reflection of wasm does not show (the types of its imports and exports), read
// from its bytes. Part of index.mjs, kept apart so that each file reads on its own.

const decoder = new TextDecoder();

/** Compiles `source` (a Module, bytes, a Response or a Promise of one of these). */
export async function compile(source) {
  source = await source;
  if (source instanceof WebAssembly.Module) return { module: source, bytes: null };
  if (typeof Response === 'function' && source instanceof Response) {
    if (!source.ok) throw new Error(`wasmexport-host: the module's Response is HTTP ${source.status}${source.url ? ` (${source.url})` : ''}`);
    // Streaming compilation takes exactly `application/wasm` (engines reject parameters and
    // other cases); a module served under another label is read whole.
    const type = source.headers.get('content-type')?.trim();
    if (WebAssembly.compileStreaming && type === 'application/wasm') {
      return { module: await WebAssembly.compileStreaming(source), bytes: null };
    }
    source = await source.arrayBuffer();
  }
  if (!(source instanceof ArrayBuffer) && !ArrayBuffer.isView(source)) {
    throw new TypeError(`wasmexport-host: instantiate takes a WebAssembly.Module, bytes, a Response or a Promise of one, not ${typeof source}`);
  }
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return { module: await WebAssembly.compile(bytes), bytes };
}

/**
 * What JavaScript's reflection of wasm does not show, read from the module's bytes: `imports`,
 * the number of parameters of each imported function by `module + '\0' + name` (undefined for a
 * name imported with two different counts), and `exports`, the parameter types (value type
 * bytes) of each exported function by name; null when they cannot be read (a feature this
 * reader does not know). A wrapper that takes exactly an import's parameters is called from
 * wasm faster than one with a rest parameter; an export's types tell a call that threw before
 * it entered the module (an argument wasm cannot convert) from one that trapped.
 */
export function readTypes(bytes) {
  let at = 8;
  const byte = () => {
    if (at >= bytes.length) throw new RangeError('truncated');
    return bytes[at++];
  };
  const leb = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
  };
  const name = () => {
    const len = leb();
    at += len;
    return decoder.decode(bytes.subarray(at - len, at));
  };
  try {
    const params = []; // the parameter types of each function type
    const funcs = []; // the type of each function, imported ones first
    const imports = new Map();
    while (at < bytes.length) {
      const id = byte();
      const end = leb() + at;
      if (id === 1) {
        for (let n = leb(); n > 0; n--) {
          if (byte() !== 0x60) return null; // not a plain function type (the GC proposal's)
          const types = [];
          for (let i = leb(); i > 0; i--) {
            const t = byte();
            if (t >= 0x80 || t < 0x6f) return null;
            types.push(t);
          }
          params.push(types);
          const results = leb();
          for (let i = 0; i < results; i++) if (byte() >= 0x80 || bytes[at - 1] < 0x6f) return null;
        }
      } else if (id === 2) {
        const limits = () => {
          const flags = byte();
          if (flags > 0x07) throw new RangeError('limits');
          leb();
          if (flags & 1) leb();
        };
        for (let n = leb(); n > 0; n--) {
          const key = `${name()}\0${name()}`;
          const kind = byte();
          if (kind === 0) {
            const type = leb();
            const arity = params[type].length;
            funcs.push(type);
            imports.set(key, imports.has(key) && imports.get(key) !== arity ? undefined : arity);
          } else if (kind === 1) {
            if (byte() < 0x6f) return null; // a typed reference (the GC proposal's)
            limits();
          } else if (kind === 2) limits();
          else if (kind === 3) {
            if (byte() < 0x6f) return null;
            byte();
          } else if (kind === 4) {
            byte();
            leb();
          } else return null;
        }
      } else if (id === 3) {
        for (let n = leb(); n > 0; n--) funcs.push(leb());
      } else if (id === 7) {
        const exports = new Map();
        for (let n = leb(); n > 0; n--) {
          const key = name();
          const kind = byte();
          const index = leb();
          if (kind === 0) exports.set(key, params[funcs[index]]);
        }
        return { imports, exports };
      }
      at = end;
    }
    return { imports, exports: new Map() };
  } catch {
    return null;
  }
}

/** Float64Array and BigInt64Array stores convert as wasm converts its arguments. */
const numberSlot = new Float64Array(1);
const bigintSlot = new BigInt64Array(1);

/**
 * Whether wasm converts `args` to parameter types `types` without throwing (numbers: i32, i64,
 * f32, f64; else unknown: true). A call whose arguments do not convert throws before it enters
 * the module. The conversions run again here (an argument's `valueOf` with them), only for a
 * call that threw.
 */
export function convertible(types, args) {
  try {
    for (let i = 0; i < types.length; i++) {
      const t = types[i];
      if (t === 0x7e) bigintSlot[0] = args[i];
      else if (t >= 0x7c && t <= 0x7f) numberSlot[0] = args[i];
      else if (t === 0x7b) return false; // v128: JavaScript cannot pass one
    }
    return true;
  } catch {
    return false;
  }
}

