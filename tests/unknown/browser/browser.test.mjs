// tests/unknown/guest in a real browser: Debian's headless Chromium (CHROMIUM, default
// /usr/bin/chromium), driven with playwright-core (`npm ci` here), loads index.html from a
// loopback HTTP server this test starts; the page instantiates the module through hosts/js with
// no WASI and shows the result of a pending async export, which the test reads from the DOM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const wasm =
  process.env.WASMEXPORT_UNKNOWN_WASM ??
  path.join(root, 'target/unknown/wasm32-unknown-unknown/release/unknown_guest.wasm');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

// The only files the server hands out: the page, its modules and the guest.
const files = {
  '/index.html': ['tests/unknown/browser/index.html', 'text/html'],
  '/tests/unknown/host.mjs': ['tests/unknown/host.mjs', 'text/javascript'],
  '/hosts/js/index.mjs': ['hosts/js/index.mjs', 'text/javascript'],
  '/hosts/js/module.mjs': ['hosts/js/module.mjs', 'text/javascript'],
  '/guest.wasm': [wasm, 'application/wasm'],
};

function serve(served) {
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    served.push(req.url);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1] });
    res.end(fs.readFileSync(path.resolve(root, file[0])));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('a pending export resolves in headless Chromium, shown in the page', { timeout: 120_000 }, async () => {
  const served = [];
  const server = await serve(served);
  let browser = null;
  try {
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    await page.waitForSelector('body[data-done]', { timeout: 60_000 });
    assert.deepEqual(errors, []);
    assert.equal(await page.textContent('#add'), '5');
    assert.equal(await page.textContent('#pending'), '42', 'fetch_then_sleep(41, 30) resolved in the page');
    assert.match(await page.textContent('#trap'), /^wasmexport: panic in export "boom": boom 7/);
    assert.ok(served.includes('/guest.wasm'), `the page fetched the guest: ${served}`);
  } finally {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
