// The adaptive timeout (SPEC 19) in the dashboard, in Debian's chromium
// through playwright-core, against a real lovebeat started by
// tests/browser.rs (adaptive_timeout_in_chromium) on a database seeded with
// `web.adaptive` (adaptive, 300 beats a minute apart with a 10-minute stall
// in every ten of the first 200: more than the history keeps) and
// `web.auto` (auto, 100 regular minutes). Checks the timeout column's
// "adaptive (≈ …)" against the API's timeout_in_force, before and after a
// restart (the stored model), after setting "adaptive" from the page, and
// live after a beat. Environment as for dashboard.mjs: LOVEBEAT_URL,
// ARTIFACTS, LABEL; "RESTART" on stdout asks for a restart, answered by
// "RESTARTED" on stdin. Plain node + assert: a failure exits non-zero.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const BASE = process.env.LOVEBEAT_URL;
const ARTIFACTS = process.env.ARTIFACTS || 'target/test-artifacts';
const LABEL = process.env.LABEL || 'adaptive';
assert.ok(BASE && BASE.endsWith('/'), 'LOVEBEAT_URL must be set and end with /');
mkdirSync(ARTIFACTS, { recursive: true });
const LIVE = 10_000; // generous deadline for "live" changes

const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

function step(text) { console.log(`step: ${text}`); }
function curl(...args) {
  return execFileSync('curl', ['-sS', '--fail-with-body', '--max-time', '10', ...args], { encoding: 'utf8' });
}
const api = (path) => JSON.parse(curl(BASE + path));
const service = (name) => api(`api/services/${name}`).service;

async function poll(what, f, ms = LIVE) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await f(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${last}`);
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${LABEL}-${name}.png`), fullPage: true });
const row = (page, name) => page.locator(`tr[data-service="${name}"]`);
const timeoutText = (page, name) => row(page, name).locator('td.timeout').textContent();

const UNIT = { s: 1, min: 60, h: 3600, d: 86_400 };
/** "adaptive (≈ 12 min 5 s)" agrees with `ms`: the model's name, then the
 * duration in the page's words, within the smallest unit it shows. Parsed
 * here rather than formatted with the page's own code, so a wrong value
 * cannot agree with itself. */
function shows(text, model, ms) {
  const m = new RegExp(`^${model} \\(≈ ((?:\\d+ (?:d|h|min|s) ?)+)\\)$`).exec(text);
  if (!m || !(ms > 0)) return false;
  const parts = [...m[1].matchAll(/(\d+) (d|h|min|s)/g)];
  const secs = parts.reduce((sum, [, n, u]) => sum + Number(n) * UNIT[u], 0);
  const smallest = UNIT[parts[parts.length - 1][2]];
  return Math.abs(secs - ms / 1000) <= smallest / 2 + 0.001;
}

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
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

try {
  step('the adaptive service shows its learnt timeout, as the API has it');
  await page.goto(BASE);
  await row(page, 'web.adaptive').waitFor({ timeout: LIVE });
  const before = service('web.adaptive');
  assert.equal(before.timeout, -2, JSON.stringify(before));
  assert.equal(before.auto_model, 'adaptive', JSON.stringify(before));
  await poll('"adaptive (≈ …)" with the API\'s value',
    async () => shows(await timeoutText(page, 'web.adaptive'), 'adaptive', service('web.adaptive').timeout_in_force));
  const shown = await timeoutText(page, 'web.adaptive');
  assert.match(await row(page, 'web.adaptive').locator('td.timeout').getAttribute('title'), /"adaptive"/);
  assert.match(await row(page, 'web.adaptive').locator('td.deadline').textContent(), /^in \d+ (s|min)/);
  // The auto service beside it says auto, with its own learnt value.
  await poll('"auto (≈ …)" beside it',
    async () => shows(await timeoutText(page, 'web.auto'), 'auto', service('web.auto').timeout_in_force));
  await shot(page, 'adaptive');

  step('after a restart the stored model gives the same text');
  const restarted = nextLine();
  console.log('RESTART');
  await page.locator('#conn[data-conn="offline"], #conn[data-conn="connecting"]').first().waitFor({ timeout: 30_000 });
  assert.equal(await restarted, 'RESTARTED');
  await page.locator('#conn[data-conn="live"]').waitFor({ timeout: 30_000 });
  assert.equal(service('web.adaptive').timeout_in_force, before.timeout_in_force, 'the same model after the restart');
  await poll('the same text after the restart', async () => (await timeoutText(page, 'web.adaptive')) === shown);

  step('double-click the auto timeout, type adaptive: the adaptive model');
  await row(page, 'web.auto').locator('td.timeout').dblclick();
  const input = row(page, 'web.auto').locator('td.timeout input');
  await input.fill('adaptive');
  await input.press('Enter');
  await poll('adaptive in the API', () => service('web.auto').auto_model === 'adaptive');
  await poll('"adaptive (≈ …)" on the page',
    async () => shows(await timeoutText(page, 'web.auto'), 'adaptive', service('web.auto').timeout_in_force));

  step('a beat: the text follows the model, live');
  curl('-X', 'POST', `${BASE}api/services/web.adaptive`);
  const after = service('web.adaptive');
  assert.ok(after.last_beat > before.last_beat, JSON.stringify(after));
  await poll('the new value shown',
    async () => shows(await timeoutText(page, 'web.adaptive'), 'adaptive', service('web.adaptive').timeout_in_force));
  await shot(page, 'adaptive-after');

  assert.deepEqual(errors, [], 'no errors in the page');
  console.log('ok: all browser checks passed');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  lines.close();
}
