// Strings and byte buffers at the boundary under Node's node:wasi: pointer and length from JS,
// and the checks made before the call runs (UTF-8, bounds, overlapping buffers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { module, reactor, wasmDir } from './wasi.mjs';

const guests = `${wasmDir}/wasm32-wasip1/release`;

function strings() {
  const g = reactor(module(guests, 'strings'), (self) => ({
    test: {
      // Reads the text, writes it back reversed into the out buffer, returns its length.
      echo: (ptr, len, tag, out, cap) => {
        assert.equal(tag, 7);
        const mem = new Uint8Array(self.exports.memory.buffer);
        const text = mem.slice(ptr, ptr + len).reverse();
        mem.set(text.subarray(0, cap), out);
        return len;
      },
    },
  }));
  return g;
}

/// Copies `bytes` into a buffer from the guest's `alloc` export; returns [ptr, len].
function put(g, bytes) {
  const ptr = g.exports.alloc(bytes.length) >>> 0;
  new Uint8Array(g.exports.memory.buffer).set(bytes, ptr);
  return [ptr, bytes.length];
}

const utf8 = (s) => new TextEncoder().encode(s);
const lastLine = (g) => g.stderr().trimEnd().split('\n').at(-1);

test('strings and buffers cross as pointer and length', () => {
  const g = strings();
  const [p, n] = put(g, utf8('héllo, wörld'));
  assert.equal(g.exports.chars(p, n), 12);
  const [dst] = put(g, new Uint8Array(32));
  assert.equal(g.exports.upper(p, n, dst, 32), 14);
  const out = new Uint8Array(g.exports.memory.buffer, dst, 14);
  assert.equal(new TextDecoder().decode(out), 'HÉLLO, WÖRLD');
  assert.equal(g.exports.chars_later(p, n), 24);
  assert.equal(g.exports.offset(100, -58), 42);
  assert.equal(g.exports.call_echo(2), 12);
  assert.equal(g.exports.chars(0xffffffff, 0), 0);
});

test('invalid UTF-8 traps naming the export and the parameter; the next call runs', () => {
  const g = strings();
  const [p] = put(g, new Uint8Array([0x6f, 0x6b, 0x20, 0xff, 0xfe]));
  assert.throws(() => g.exports.chars(p, 5), WebAssembly.RuntimeError);
  assert.equal(
    lastLine(g),
    'wasmexport: export "chars": parameter `s` is not UTF-8 (invalid byte at offset 3); ' +
      'a &str parameter takes UTF-8 text (take &[u8] for other bytes)',
  );
  assert.equal(g.exports.chars(p, 3), 3);
});

test('a range outside linear memory traps', () => {
  const g = strings();
  const size = g.exports.memory.buffer.byteLength;
  assert.throws(() => g.exports.sum(size - 4, 8), WebAssembly.RuntimeError);
  assert.match(lastLine(g), /^wasmexport: export "sum": parameter `bytes`: 8 bytes at 0x[0-9a-f]+ run past the end of linear memory/);
  assert.throws(() => g.exports.sum(0xfffffffe, 4), WebAssembly.RuntimeError);
  assert.match(lastLine(g), /4 bytes at 0xfffffffe run past the end/);
  assert.throws(() => g.exports.chars(0, 3), WebAssembly.RuntimeError);
  assert.match(lastLine(g), /parameter `s`: a null pointer with length 3/);
  assert.equal(g.exports.sum(size - 1, 1), 0);
});

test('overlapping buffers trap when one is mutable', () => {
  const g = strings();
  const [p] = put(g, utf8('abcdefgh'));
  assert.throws(() => g.exports.upper(p, 8, p + 4, 8), WebAssembly.RuntimeError);
  assert.match(lastLine(g), /export "upper": parameters `src` and `dst` share bytes, and one is &mut \[u8\]/);
  assert.throws(() => g.exports.swap(p, 4, p, 4), WebAssembly.RuntimeError);
  assert.equal(g.exports.sum2(p, 2, p, 1), 97 + 98 + 97);
  assert.equal(g.exports.swap(p, 4, p + 4, 4), 4);
  assert.equal(new TextDecoder().decode(new Uint8Array(g.exports.memory.buffer, p, 8)), 'efghabcd');
});
