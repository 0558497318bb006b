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
import { LIVE, curl, environment, launch, poll, restartServer, row, shooter, step } from './common.mjs';

const { BASE, ARTIFACTS, LABEL } = environment('adaptive');

const api = (path) => JSON.parse(curl(BASE + path));
const service = (name) => api(`api/services/${name}`).service;

const shot = shooter(ARTIFACTS, `${LABEL}-`);
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

const { page, errors, close } = await launch();

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
  await restartServer(page);
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
  await close();
}
