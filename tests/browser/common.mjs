// What the browser tests in this folder share: the environment
// tests/browser.rs passes (LOVEBEAT_URL, ARTIFACTS, LABEL), curl, polling
// with a deadline, Debian's chromium through playwright-core (a fresh
// profile, the page's errors collected), screenshots, the requests the
// browser makes, and the RESTART/RESTARTED exchange with tests/browser.rs.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

/** A generous deadline for "live" changes. */
export const LIVE = 10_000;

/** LOVEBEAT_URL (required, ending with /), ARTIFACTS (created) and LABEL
 * (`label` when not given). */
export function environment(label) {
  const BASE = process.env.LOVEBEAT_URL;
  assert.ok(BASE && BASE.endsWith('/'), 'LOVEBEAT_URL must be set and end with /');
  const ARTIFACTS = process.env.ARTIFACTS || 'target/test-artifacts';
  mkdirSync(ARTIFACTS, { recursive: true });
  return { BASE, ARTIFACTS, LABEL: process.env.LABEL || label };
}

export function step(text) { console.log(`step: ${text}`); }

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A real curl (failing on an HTTP error); returns its output. */
export function curl(...args) {
  return execFileSync('curl', ['-sS', '--fail-with-body', '--max-time', '10', ...args], { encoding: 'utf8' });
}

/** `f()`'s first truthy result, asked every 100 ms for at most `ms`; a
 * throw counts as "not yet". Past the deadline, an error naming `what` and
 * the last result. */
export async function poll(what, f, ms = LIVE) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await f(); if (last) return last; } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last: ${last}`);
}

/** `shot(page, name)`: a full-page screenshot `<prefix><name>.png` in
 * `artifacts`. */
export const shooter = (artifacts, prefix = '') => (page, name) =>
  page.screenshot({ path: join(artifacts, `${prefix}${name}.png`), fullPage: true });

/** The dashboard's row of service `name`. */
export const row = (page, name) => page.locator(`tr[data-service="${name}"]`);

/** Waits for two animation frames (the page has drawn what it was given). */
export const frames = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** Whether `url` leaves the machine: not data: and not to 127.0.0.1. */
export function outside(url) {
  const u = new URL(url);
  return u.protocol !== 'data:' && u.hostname !== '127.0.0.1';
}

/** Debian's chromium, headless, on a fresh empty profile (--user-data-dir)
 * at 1280×800. Returns its `context`, its first `page`, the `errors` that
 * page reports (uncaught exceptions, console errors except those
 * `expected` matches) and `close()`, which closes the browser and removes
 * the profile. */
export async function launch({ expected } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'lovebeat-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !(expected && expected.test(m.text()))) errors.push(m.text());
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, errors, close };
}

/** Every request of every page of `context`, as `f` records it (its URL
 * unless told). Call before the first navigation. */
export function recordRequests(context, f = (r) => r.url()) {
  const requests = [];
  context.on('request', (r) => requests.push(f(r)));
  return requests;
}

/** Asks tests/browser.rs to restart the server on the same port ("RESTART"
 * on stdout, answered by "RESTARTED" on stdin) and waits until `page`
 * noticed it go away and came back live. */
export async function restartServer(page) {
  const lines = createInterface({ input: process.stdin });
  try {
    // Listen for the answer before asking: a fast restart may answer before
    // the page has noticed the server went away (a line with no listener is lost).
    const restarted = new Promise((resolve) => lines.once('line', resolve));
    console.log('RESTART');
    await page.locator('#conn[data-conn="offline"], #conn[data-conn="connecting"]').first().waitFor({ timeout: 30_000 });
    assert.equal(await restarted, 'RESTARTED');
    await page.locator('#conn[data-conn="live"]').waitFor({ timeout: 30_000 });
  } finally {
    lines.close();
  }
}
