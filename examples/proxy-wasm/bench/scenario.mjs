// What the Envoy of the wrk bench does around the filters, for bench/guests.mjs: the paths and
// their requests' headers, what the auth service answers, the response, proxy-wasm's numbers,
// and what each path's outcome must be.

export const ALLOW = 'Bearer bench:ok';
export const DENY = 'Bearer bench:no';

// The paths, each on one of the two plugin configurations (root contexts) of the module's one
// VM, as in the wrk bench: `cached` with a verdict cache, `fresh` without.
// `callouts`: how many the filter must make per request.
export const PATHS = [
  { name: 'pass-through', root: 'cached', path: '/public/x', token: null, callouts: 0 },
  { name: 'callout, verdict cached', root: 'cached', path: '/api/x', token: ALLOW, callouts: 0 },
  { name: 'callout awaited', root: 'fresh', path: '/api/x', token: ALLOW, callouts: 1 },
  { name: 'callout, denied', root: 'fresh', path: '/api/x', token: DENY, callouts: 1 },
];
/** Requests in flight at once (the wrk bench's connections). */
export const BATCH = 16;

/** The cached path's first batch: the cache is empty, so each request awaits a callout. */
export const PRIME = { ...PATHS[1], name: 'callout awaited', callouts: 1 };
export const ROOTS = { cached: { id: 1, config: 'ttl_ms=60000' }, fresh: { id: 2, config: 'ttl_ms=0' } };

// proxy-wasm's numbers.
export const OK = 0;
export const NOT_FOUND = 1;
export const BAD_ARGUMENT = 2;
export const REQUEST_HEADERS = 0;
export const RESPONSE_HEADERS = 2;
export const CALLOUT_HEADERS = 6;
export const PLUGIN_CONFIGURATION = 7;
export const CALLOUT_BODY = 4;
export const CONTINUE = 0;
export const EMPTY = new Uint8Array(0);
/** The callbacks the stub makes per request. */
export const CALLBACKS = ['proxy_on_context_create', 'proxy_on_request_headers', 'proxy_on_http_call_response',
  'proxy_on_response_headers', 'proxy_on_response_body', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete'];

const utf8 = new TextEncoder();
const encoded = new Map();
/** `s` as UTF-8, kept: the stub hands the same few strings over and over. */
export function bytesOf(s) {
  let b = encoded.get(s);
  if (b === undefined) {
    b = utf8.encode(s);
    encoded.set(s, b);
  }
  return b;
}

/**
 * The headers Envoy's filter chain holds for a wrk request to `path`: copied per request (a
 * pair is never changed in place, only replaced), so the stub's own cost stays small.
 */
function requestHeaders(path, token) {
  const h = [
    [':authority', '127.0.0.1:10000'],
    [':path', path],
    [':method', 'GET'],
    [':scheme', 'http'],
  ];
  if (token) h.push(['authorization', token]);
  h.push(['x-forwarded-proto', 'http'], ['x-request-id', '6f1c6a0e-2d4b-4c1e-9a57-1d2c3b4a5f60']);
  // Each name's bytes beside it, for lookups (a pair the filter adds has none).
  return h.map(([n, v]) => [n, v, bytesOf(n)]);
}

for (const p of [...PATHS, PRIME]) p.headers = requestHeaders(p.path, p.token);

const DATE = ['date', 'Mon, 07 Dec 2026 06:00:00 GMT'];
/** What the auth service (an Envoy answering from its routes) says to each token. */
export const ANSWERS = new Map([
  [ALLOW, [[':status', '200'], ['x-user', 'bench'], ['content-length', '0'], DATE, ['server', 'envoy'],
    ['x-envoy-upstream-service-time', '0']]],
  [DENY, [[':status', '403'], ['content-length', '0'], DATE, ['server', 'envoy'], ['x-envoy-upstream-service-time', '0']]],
]);
for (const answer of ANSWERS.values()) Object.freeze(answer);
/** The callout a filter must make for each token, as bytes (both filters' headers in this order). */
export const CALLOUT_TOKENS = [ALLOW, DENY];
export const AUTH = bytesOf('auth');
export const DENIED = bytesOf('denied\n');
export const CALLOUT_BYTES = CALLOUT_TOKENS.map((t) => encodePairs(Object.freeze([
  [':method', 'GET'], [':path', '/check'], [':authority', 'auth'], ['authorization', t]])));
export const RESPONSE = [[':status', '200'], ['content-length', '3'], ['content-type', 'text/plain'], DATE, ['server', 'envoy']];

/** The value of header `name` in `pairs`, undefined if none (a loop: no closure per call). */
export function find(pairs, name) {
  for (let i = 0; i < pairs.length; i += 1) if (pairs[i][0] === name) return pairs[i][1];
  return undefined;
}

/** proxy-wasm's header-map encoding of `pairs`. */
export function encodePairs(pairs) {
  const cached = encoded.get(pairs);
  if (cached) return cached;
  const parts = pairs.map(([n, v]) => [bytesOf(n), bytesOf(v)]);
  let size = 4 + 8 * parts.length;
  for (const [n, v] of parts) size += n.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length, true);
  let at = 4 + 8 * parts.length;
  parts.forEach(([n, v], i) => {
    view.setUint32(4 + 8 * i, n.length, true);
    view.setUint32(8 + 8 * i, v.length, true);
    out.set(n, at);
    out.set(v, at + n.length + 1);
    at += n.length + v.length + 2;
  });
  if (Object.isFrozen(pairs)) encoded.set(pairs, out);
  return out;
}

/** Throws unless the filter did to request `ctx` what path `p` asks for. */
export function check(name, p, ctx) {
  const fail = (what) => {
    throw new Error(`${name}, ${p.name}: ${what} (headers ${JSON.stringify(ctx.headers)}, ` +
      `action ${ctx.action}, continued ${ctx.continued}, reply ${JSON.stringify(ctx.reply)}, ` +
      `callouts ${JSON.stringify(ctx.callouts)})`);
  };
  const went = ctx.action === CONTINUE ? ctx.continued === 0 : ctx.continued === 1;
  const calledOut = ctx.callouts.length;
  switch (p.name) {
    case 'pass-through':
      if (ctx.action !== CONTINUE || ctx.continued || ctx.reply || calledOut) fail('not passed through at once');
      if (ctx.headers.length !== ctx.sent || find(ctx.headers, 'x-auth-user') !== undefined) fail('headers changed');
      break;
    case 'callout, verdict cached':
    case 'callout awaited':
      if (calledOut !== p.callouts) fail(`${calledOut} callouts`);
      if (calledOut && ctx.callouts[0].authorization !== p.token) fail('the token not sent to the auth service');
      if (ctx.reply || !went) fail('not continued, or continued more than once');
      if (p.callouts && ctx.action === CONTINUE) fail('continued before the callout was answered');
      if (find(ctx.headers, 'x-auth-user') !== 'bench') fail('no x-auth-user');
      if (find(ctx.headers, 'authorization') !== undefined) fail('the token went on upstream');
      break;
    case 'callout, denied':
      if (calledOut !== 1) fail(`${calledOut} callouts`);
      if (ctx.reply?.status !== 403 || ctx.reply.body !== 'denied\n' || ctx.continued) fail('not a 403 reply');
      break;
    default:
      fail('an unknown path');
  }
}
