// Just enough of the wasm binary format for the per-import figure: read a module's function
// imports with their types, and write a module that imports one function and has nothing else.
// (Node 20 has no type reflection for imports, and the bench takes no npm dependencies.)

function reader(bytes) {
  let at = 0;
  const r = {
    byte: () => bytes[at++],
    u32() {
      let result = 0;
      for (let shift = 0; ; shift += 7) {
        const b = bytes[at++];
        result |= (b & 0x7f) << shift;
        if (!(b & 0x80)) return result >>> 0;
      }
    },
    bytes(n) {
      const b = bytes.subarray(at, at + n);
      at += n;
      return b;
    },
    name: () => new TextDecoder().decode(r.bytes(r.u32())),
    get at() {
      return at;
    },
    set at(v) {
      at = v;
    },
  };
  return r;
}

function limits(r) {
  const flags = r.byte();
  r.u32();
  if (flags & 1) r.u32();
}

/// `[name, {params, results}]` for each function that `bytes` imports from
/// `wasi_snapshot_preview1`; params and results are value-type bytes.
export function wasiImports(bytes) {
  const r = reader(bytes);
  r.at = 8;
  const types = [];
  const out = [];
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.at + size;
    if (id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        if (r.byte() !== 0x60) throw new Error('only function types are supported');
        const params = [...r.bytes(r.u32())];
        const results = [...r.bytes(r.u32())];
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind === 0) {
          const type = types[r.u32()];
          if (module === 'wasi_snapshot_preview1') out.push([name, type]);
        } else if (kind === 1) {
          r.byte();
          limits(r);
        } else if (kind === 2) {
          limits(r);
        } else {
          r.byte();
          r.byte();
        }
      }
    }
    r.at = end;
  }
  return out;
}

function u32(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const vec = (items) => [...u32(items.length), ...items.flat()];
const name = (s) => vec([...new TextEncoder().encode(s)]);
const section = (id, body) => [id, ...u32(body.length), ...body];

/// A module that imports `import.name` from `wasi_snapshot_preview1` with type `import.type`,
/// or (for `null`) an empty module.
export function importOnly(imp) {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (!imp) return new Uint8Array(header);
  const { params, results } = imp.type;
  const type = [0x60, ...vec(params), ...vec(results)];
  const entry = [...name('wasi_snapshot_preview1'), ...name(imp.name), 0x00, 0x00];
  return new Uint8Array([...header, ...section(1, vec([type])), ...section(2, vec([entry]))]);
}
