// Drives Debian's chromium (headless, through playwright-core) against a
// real lovebeat, started by tests/browser.rs, which passes:
//   LOVEBEAT_URL   the dashboard's URL (direct, or through nginx at a sub-path)
//   ARTIFACTS      where screenshots go
//   LABEL          prefix of the screenshot names ("direct", "nginx")
// and reads "RESTART" on our stdout as a request to restart the server on
// the same port, answering "RESTARTED" on our stdin.
// Plain node + assert: any failure exits non-zero with a message.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import {
  LIVE, curl, environment, launch, poll, restartServer, row, shooter, sleep, step,
} from './common.mjs';

// Services are created with a real curl, as a person would; LIVE is a
// generous deadline for "live" changes (the goal is < 2 s).
const { BASE, ARTIFACTS, LABEL } = environment('direct');

const api = (path) => JSON.parse(curl(BASE + path));
const curlAsync = (...args) => promisify(execFile)('curl', ['-sS', '--fail-with-body', '--max-time', '10', ...args]);

/** 11 beats: nine about 1 s apart, then one after 13 s, so the analysis
 * (10th and 90th percentile of the intervals) says "unstable". Runs while
 * the other checks go on. */
async function jitteryBeats(name) {
  for (let i = 0; i < 10; i++) {
    await curlAsync('-X', 'POST', `${BASE}api/services/${name}?timeout=1h`);
    await sleep(1100);
  }
  await sleep(12_000);
  await curlAsync('-X', 'POST', `${BASE}api/services/${name}`);
}

const shot = shooter(ARTIFACTS, `${LABEL}-`);

// A fresh, empty profile for every run. The one expected failure: the
// refused timeout "soon" below (HTTP 400).
const { page, errors, close } = await launch({ expected: /status of 400/ });
const external = [];
page.on('request', (r) => {
  const u = new URL(r.url());
  if (!['127.0.0.1', 'localhost'].includes(u.hostname) && u.protocol !== 'data:') external.push(r.url());
});

try {
  step('the page loads and shows the first-run page');
  await page.goto(BASE);
  await page.locator('#conn[data-conn="live"]').waitFor({ timeout: LIVE });
  const firstRun = page.locator('section.firstrun code');
  await firstRun.waitFor({ timeout: LIVE });
  const command = await firstRun.textContent();
  assert.match(command, /^curl -X POST '.*api\/services\/my\.first\.service\?timeout=5m'$/);
  assert.ok(command.includes(BASE), `the curl command points at this server: ${command}`);
  await shot(page, 'first-run');
  // The command shown works as is.
  curl('-X', 'POST', command.match(/'([^']+)'/)[1]);
  await row(page, 'my.first.service').waitFor({ timeout: LIVE });

  step('a service created by curl appears live');
  curl('-X', 'POST', BASE + 'api/services/web.alpha?timeout=1h');
  await row(page, 'web.alpha').waitFor({ timeout: LIVE });
  curl('-X', 'POST', BASE + 'api/services/web.beta?timeout=1h');
  curl('-X', 'POST', BASE + 'api/services/other.gamma?timeout=auto');
  await row(page, 'other.gamma').waitFor({ timeout: LIVE });
  assert.equal(await row(page, 'web.alpha').locator('td.timeout').textContent(), '1 h');
  assert.equal(await row(page, 'web.alpha').getAttribute('data-state'), 'ok');
  assert.equal(await page.locator('[data-count="ok"]').textContent(), ' 4 ok');
  assert.equal(await page.title(), 'Lovebeat');
  const jitter = jitteryBeats('jitter.job');
  // Beats a little over a second apart until told to stop: the auto timeout
  // learns its interval (about 2 s) and the service stays OK meanwhile.
  let learning = true;
  const learner = (async () => {
    await curlAsync('-X', 'POST', `${BASE}api/services/auto.learner?timeout=auto`);
    while (learning) {
      await sleep(1100);
      await curlAsync('-X', 'POST', `${BASE}api/services/auto.learner`);
    }
  })();

  step('a service that expires turns red live, errors first, title and icon say so');
  curl('-X', 'POST', BASE + 'api/services/web.expiring?timeout=2');
  curl('-X', 'POST', BASE + 'api/services/web.expiring2?timeout=2');
  await page.locator('tr[data-service="web.expiring"][data-state="error"]').waitFor({ timeout: LIVE });
  const first = await page.locator('tbody tr').first().getAttribute('data-service');
  assert.equal(first, 'web.expiring', 'errors come first');
  await poll('an ERROR title', async () => (await page.title()).includes('ERROR'));
  const icon = await page.locator('#favicon').getAttribute('href');
  assert.ok(icon.startsWith('data:image/svg+xml') && icon.includes('d23b3b'), `red favicon: ${icon}`);
  await page.locator('li.view[data-view="web"][data-state="error"]').waitFor({ timeout: LIVE });
  assert.match(await page.locator('li.view[data-view="web"] .incident').textContent(), /incident #1/);
  const failingText = () => page.locator('li.view[data-view="web"] .failed').textContent();
  await poll('the card says 2 failing', async () => (await failingText()) === '2 failing');
  await shot(page, 'services');

  step('muting a failing member updates the view card although the view stays in ERROR');
  await row(page, 'web.expiring2').locator('td.pick input').check();
  await page.locator('button[data-action="mute"]').click();
  await poll('web.expiring2 muted in the API', () => api('api/services/web.expiring2').service.state === 'muted');
  const web = api('api/views/web').view;
  assert.equal(web.state, 'error', 'the view stays in ERROR: no view event is sent');
  assert.deepEqual(web.failed_services, ['web.expiring']);
  await poll('the card says 1 failing, as the API', async () => (await failingText()) === '1 failing');
  assert.equal(await page.locator('li.view[data-view="web"]').getAttribute('data-state'), 'error');
  await shot(page, 'after-mute');

  step('mute from the page mutes in the API');
  await row(page, 'web.alpha').locator('td.pick input').check();
  await page.locator('button[data-action="mute"]').click();
  await poll('web.alpha muted in the API', () => api('api/services/web.alpha').service.state === 'muted');
  await page.locator('tr[data-service="web.alpha"][data-state="muted"]').waitFor({ timeout: LIVE });
  await row(page, 'web.alpha').locator('td.pick input').check();
  await page.locator('button[data-action="unmute"]').click();
  await poll('web.alpha unmuted in the API', () => api('api/services/web.alpha').service.state === 'ok');

  step('double-click the timeout, type 5m: 300 s');
  await row(page, 'web.beta').locator('td.timeout').dblclick();
  const input = row(page, 'web.beta').locator('td.timeout input');
  await input.fill('5m');
  await input.press('Enter');
  await poll('timeout 300 s in the API', () => api('api/services/web.beta').service.timeout === 300_000);
  await poll('5 min shown', async () => (await row(page, 'web.beta').locator('td.timeout').textContent()) === '5 min');
  // A wrong value is refused with the API's message, and nothing changes.
  await row(page, 'web.beta').locator('td.timeout').dblclick();
  await row(page, 'web.beta').locator('td.timeout input').fill('soon');
  await row(page, 'web.beta').locator('td.timeout input').press('Enter');
  await poll('an error notice', async () => /invalid timeout/.test(await page.locator('#notice').textContent()));
  assert.equal(api('api/services/web.beta').service.timeout, 300_000);

  step('the filter box');
  await page.locator('input.filter').fill('gamma');
  await poll('only other.gamma listed', async () => (await page.locator('tbody tr[data-service]').count()) === 1);
  assert.equal(await page.locator('tbody tr[data-service]').first().getAttribute('data-service'), 'other.gamma');
  await page.locator('input.filter').fill('');

  step('delete from the page, after confirming');
  curl('-X', 'POST', BASE + 'api/services/doomed.one?timeout=1h');
  await row(page, 'doomed.one').locator('td.pick input').check();
  page.once('dialog', (d) => d.accept());
  await page.locator('button[data-action="delete"]').click();
  const status = (path) => execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', BASE + path], { encoding: 'utf8' });
  await poll('doomed.one gone from the API (404)', () => status('api/services/doomed.one') === '404');
  await poll('doomed.one gone from the page', async () => (await row(page, 'doomed.one').count()) === 0);

  step('a view opens its own page listing its members');
  await page.locator('li.view[data-view="web"] a').click();
  await page.locator('[data-view-page="web"]').waitFor({ timeout: LIVE });
  const members = await page.locator('tbody tr[data-service]').evaluateAll((rows) => rows.map((r) => r.dataset.service));
  assert.deepEqual(members.sort(), ['web.alpha', 'web.beta', 'web.expiring', 'web.expiring2']);
  assert.match(await page.locator('[data-view-page="web"] .meta').textContent(), /failing: web\.expiring$/);
  await shot(page, 'view');
  // The same page loaded by its path (views/<name>), as a bookmark would.
  await page.goto(BASE + 'views/web');
  await page.locator('[data-view-page="web"]').waitFor({ timeout: LIVE });
  assert.equal(await page.locator('tbody tr[data-service]').count(), 4);
  assert.ok(page.url().startsWith(BASE) && page.url().endsWith('#/views/web'), page.url());
  // ...and the view changes state live: the expired member beats again.
  curl('-X', 'POST', BASE + 'api/services/web.expiring?timeout=1h');
  await page.locator('[data-view-page="web"] .state.ok').waitFor({ timeout: LIVE });

  step('an auto timeout shows its learned value and the next deadline');
  await page.goto(BASE);
  const learned = row(page, 'auto.learner');
  await poll('the learned value shown', async () => /^auto \(≈ \d+ s\)$/.test(await learned.locator('td.timeout').textContent()));
  // The same value as the API's (polled: each beat may move it a little).
  await poll('the API\'s timeout_in_force shown', async () => {
    const inForce = api('api/services/auto.learner').service.timeout_in_force;
    return (await learned.locator('td.timeout').textContent()) === `auto (≈ ${Math.round(inForce / 1000)} s)`;
  });
  await poll('a deadline seconds away', async () => /^(in \d+ s|due now)$/.test(await learned.locator('td.deadline').textContent()));
  assert.match(await learned.locator('td.deadline').getAttribute('title'), /^goes to error at .+ unless a beat comes$/);
  assert.equal(await row(page, 'other.gamma').locator('td.timeout').textContent(), 'auto', 'nothing learned yet');
  assert.equal(await row(page, 'other.gamma').locator('td.deadline').textContent(), 'none (learning)');
  assert.equal(await row(page, 'web.beta').locator('td.deadline').textContent().then((t) => /^in \d+ min( \d+ s)?$/.test(t)), true);
  await shot(page, 'deadline');
  learning = false;
  await learner;

  step('phone width and dark mode');
  await page.goto(BASE);
  await row(page, 'web.alpha').waitFor({ timeout: LIVE });
  curl('-X', 'POST', BASE + 'api/services/phone.down?timeout=1');
  await page.locator('tr[data-service="phone.down"][data-state="error"]').waitFor({ timeout: LIVE });
  await page.setViewportSize({ width: 390, height: 740 });
  await row(page, 'phone.down').locator('td.pick input').check();
  // An error card is red as a whole (not only behind its cells), and the
  // three buttons share one line under the filter.
  const down = row(page, 'phone.down');
  const cardBg = await down.evaluate((tr) => getComputedStyle(tr).backgroundColor);
  assert.notEqual(cardBg, 'rgba(0, 0, 0, 0)', 'the error card has a background of its own');
  // The layout is read once the resize has settled (a live redraw may
  // land between the resize and the reads): polled, not read once.
  const layout = async () => {
    const tops = await page.locator('.toolbar button').evaluateAll((bs) => bs.map((b) => Math.round(b.getBoundingClientRect().top)));
    const filterBox = await page.locator('input.filter').boundingBox();
    return { tops, filterY: filterBox ? filterBox.y : null };
  };
  const settled = await poll('the three buttons on one line under the filter', async () => {
    const l = await layout();
    return new Set(l.tops).size === 1 && l.filterY !== null && l.filterY < l.tops[0] ? l : false;
  }).catch(async (e) => { throw new Error(`${e.message}; layout ${JSON.stringify(await layout())}`); });
  const tops = settled.tops;
  assert.equal(new Set(tops).size, 1, `buttons on one line: ${tops}`);
  assert.ok(settled.filterY < tops[0], 'the filter above the buttons');
  await shot(page, 'phone');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'phone-dark');
  await row(page, 'phone.down').locator('td.pick input').uncheck();
  await page.setViewportSize({ width: 1280, height: 800 });
  await shot(page, 'dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(246, 247, 249)', 'dark mode follows the system');
  await page.emulateMedia({ colorScheme: 'light' });

  step('the measured interval and the "unstable" mark');
  await jitter;
  const unstable = row(page, 'jitter.job').locator('td.interval .unstable');
  await unstable.waitFor({ timeout: LIVE });
  assert.match(await row(page, 'jitter.job').locator('td.interval').textContent(), /^every \d+ s – \d+ s\s*unstable$/);
  await shot(page, 'analysis');

  step('a scheduled job shows its schedule, its run, and why it failed');
  curl('-X', 'POST', `${BASE}api/services/job.backup?schedule=0%202%20*%20*%20*&tz=Europe/Berlin&max_runtime=2h`);
  curl('-X', 'POST', `${BASE}api/services/job.backup/start?rid=r1`);
  const job = row(page, 'job.backup');
  await job.waitFor({ timeout: LIVE });
  assert.equal(await job.locator('td.timeout').textContent(), '0 2 * * * (Europe/Berlin)');
  assert.match(await job.locator('td.timeout').getAttribute('title'), /^runs on the schedule "0 2 \* \* \*" in Europe\/Berlin, grace 1 h, max run 2 h/);
  await poll('the run in progress', async () => /^running \d+ s$/.test(await job.locator('td.lastrun.running').textContent()));
  assert.match(await job.locator('td.deadline').getAttribute('title'), /unless the run ends$/);
  curl('-X', 'POST', '-H', 'Content-Type: text/plain', '--data-binary', 'disk full', `${BASE}api/services/job.backup/3?rid=r1`);
  await page.locator('tr[data-service="job.backup"][data-state="error"]').waitFor({ timeout: LIVE });
  assert.equal(await job.locator('.reason').textContent(), 'failed (exit 3)');
  await poll('the last run', async () => /^took \d+ (ms|s) · exit 3$/.test(await job.locator('td.lastrun').textContent()));
  await shot(page, 'job');
  await page.setViewportSize({ width: 390, height: 740 });
  await shot(page, 'job-phone');
  await page.setViewportSize({ width: 1280, height: 800 });
  // Back to OK, so what follows sees the page as before.
  curl('-X', 'POST', `${BASE}api/services/job.backup/success`);
  await page.locator('tr[data-service="job.backup"][data-state="ok"]').waitFor({ timeout: LIVE });

  assert.deepEqual(errors, [], 'no errors in the page');
  step('the page reconnects by itself when the server restarts');
  await restartServer(page);
  curl('-X', 'POST', BASE + 'api/services/after.restart?timeout=1h');
  await row(page, 'after.restart').waitFor({ timeout: LIVE });

  assert.deepEqual(external, [], 'nothing is loaded from the internet');
  console.log('ok: all browser checks passed');
} finally {
  await close();
}
