// The host of tests/unknown/guest, for Node and the browser alike: plain WebAssembly through the
// JavaScript host library (hosts/js), with no WASI. The guest's imports are the `host` functions
// below (and its pending export's `[task-return]`, which the library provides).
import { instantiate } from '../../hosts/js/index.mjs';

/**
 * Instantiates and initializes the guest from `source` (bytes, a Response or a Module).
 * `clock`: the init hook wires the runtime's clock to `host.now_ns` (performance.now()).
 * Returns `{ host, lines }`: the library's host, and the trap lines the guest's reporter sent.
 */
export async function startGuest(source, { clock = true } = {}) {
  const lines = [];
  const host = await instantiate(source, {
    imports: (h) => ({
      host: {
        config: () => (clock ? 1 : 0),
        now_ns: () => BigInt(Math.round(performance.now() * 1e6)),
        report: (ptr, len) => lines.push(h.string(ptr, len)),
        visit: (depth) => h.exports.leaf(depth * 2),
      },
    }),
    // `start(what)`: an operation that completes with `what` after a millisecond.
    asyncImports: {
      host: { start: (what) => new Promise((resolve) => setTimeout(() => resolve(what), 1)) },
    },
  });
  return { host, lines };
}
