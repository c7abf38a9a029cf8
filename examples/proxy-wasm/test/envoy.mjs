// Runs Envoy for the tests and the benchmark: its config (listeners on port 0, found through
// the admin API), loopback servers, a small HTTP client, and a stop that kills what started.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export const ENVOY = process.env.ENVOY_BIN;
export const FILTER = process.env.PROXY_WASM_FILTER;
export const SDK_FILTER = process.env.PROXY_WASM_SDK_FILTER;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A cluster of one loopback endpoint, spoken to in HTTP/1 with trailers. */
export function cluster(name, port) {
  const address = { socket_address: { address: '127.0.0.1', port_value: port } };
  return {
    name,
    connect_timeout: '1s',
    type: 'STATIC',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http_protocol_options: { enable_trailers: true } },
      },
    },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
  };
}

/**
 * Envoy's Wasm HTTP filter running `wasm` with plugin configuration `configuration`; what a
 * trap does is `failurePolicy` (`FAIL_RELOAD`, ...) if given, else `failOpen`.
 */
export function wasmFilter({ wasm, vmId, name, configuration = '', failOpen = false, failurePolicy }) {
  const onFailure = failurePolicy ? { failure_policy: failurePolicy } : { fail_open: failOpen };
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name,
        root_id: name,
        vm_config: { vm_id: vmId, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasm } } },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: configuration },
        ...onFailure,
      },
    },
  };
}

/** A route to `cluster`, or Envoy's own 200 answer when `cluster` is absent. */
export function route(cluster) {
  return cluster
    ? { match: { prefix: '/' }, route: { cluster, timeout: '10s' } }
    : { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok\n' } } };
}

/**
 * An HTTP listener on 127.0.0.1, port chosen by the kernel, with `filters` then the router;
 * it passes on HTTP/1 trailers.
 */
export function listener(name, filters, routes) {
  const router = {
    name: 'envoy.filters.http.router',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  };
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: name,
          route_config: { virtual_hosts: [{ name, domains: ['*'], routes }] },
          http_protocol_options: { enable_trailers: true },
          http_filters: [...filters, router],
        },
      }],
    }],
  };
}

/**
 * Starts Envoy with `listeners` and `clusters`, `concurrency` workers; resolves once it is
 * ready, with the listeners' ports by name, its pid, the start-up time and its log so far.
 */
export async function startEnvoy({ listeners, clusters = [], concurrency = 1, logLevel = 'warn' }) {
  if (!ENVOY) throw new Error('ENVOY_BIN is not set (cargo xtask test sets it)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmexport-envoy-'));
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: { listeners, clusters },
  };
  fs.writeFileSync(path.join(dir, 'envoy.json'), JSON.stringify(config));
  const adminFile = path.join(dir, 'admin');
  const started = process.hrtime.bigint();
  const child = spawn(ENVOY, [
    '-c', path.join(dir, 'envoy.json'),
    '--concurrency', String(concurrency),
    '--disable-hot-restart',
    '--admin-address-path', adminFile,
    '--log-level', logLevel,
    '--component-log-level', 'wasm:info',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  let exited = null;
  // Envoy must not outlive this process, however it ends (the xtask also kills the group).
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  child.on('exit', (code, signal) => {
    exited = `exit ${code ?? signal}`;
    process.off('exit', kill);
  });
  const envoy = {
    pid: child.pid,
    log: () => log,
    async stop() {
      if (exited === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== null) throw new Error(`envoy stopped (${exited}) while starting:\n${log}`);
      if (Date.now() > deadline) throw new Error(`envoy not ready after 30 s:\n${log}`);
      if (fs.existsSync(adminFile)) {
        envoy.admin = fs.readFileSync(adminFile, 'utf8').trim();
        const ready = await get(`http://${envoy.admin}/ready`).catch(() => null);
        if (ready?.status === 200) break;
      }
      await sleep(20);
    }
    envoy.startupMs = Number(process.hrtime.bigint() - started) / 1e6;
    const { body } = await get(`http://${envoy.admin}/listeners?format=json`);
    envoy.ports = {};
    for (const l of JSON.parse(body).listener_statuses) {
      envoy.ports[l.name] = l.local_address.socket_address.port_value;
    }
    return envoy;
  } catch (e) {
    await envoy.stop();
    throw e;
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/**
 * One HTTP request; resolves with status, headers, body (text) and the time it took. A `body`
 * that is an array is sent in chunks, 30 ms apart (chunked transfer encoding), `trailers`
 * after it. With
 * `abortAfterMs`, the client closes the connection after that long (the promise rejects);
 * without, after 20 s, so that a request the filter never answers fails its test.
 */
export function request(url, { method = 'GET', headers = {}, body, trailers, keepAlive = true, abortAfterMs } = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.request(url, { method, headers, agent: keepAlive ? agent : false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        body: text,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const limit = abortAfterMs ?? 20_000;
    const timer = setTimeout(() => req.destroy(new Error(`no answer after ${limit} ms: ${method} ${url}`)), limit);
    timer.unref();
    req.on('close', () => clearTimeout(timer));
    if (trailers) req.addTrailers(trailers);
    if (!Array.isArray(body)) {
      req.end(body);
      return;
    }
    const chunks = [...body];
    const next = () => (chunks.length > 1 ? req.write(chunks.shift(), () => setTimeout(next, 30)) : req.end(chunks.shift()));
    next();
  });
}

export const get = (url, options) => request(url, options);

/**
 * A loopback HTTP server answering with `handler(req, body)` -> { status, headers, body };
 * counts the requests it got.
 */
export async function server(handler) {
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      s.requests += 1;
      const answer = handler(req, body);
      res.writeHead(answer.status ?? 200, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  s.requests = 0;
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  s.port = s.address().port;
  s.stop = () => new Promise((r) => { s.closeAllConnections(); s.close(r); });
  return s;
}
