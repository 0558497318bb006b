// The service page and the view's uptime strip (SPEC 18) in Debian's
// chromium against a real lovebeat (started by tests/browser.rs with a
// `jobs` view of `job.*`), which passes LOVEBEAT_URL, ARTIFACTS and LABEL
// as for dashboard.mjs. Checks: the page of a scheduled job that failed
// says its schedule in words and shows the failure's output and a timeline;
// every request the browser makes goes to 127.0.0.1; nothing scrolls
// sideways at 390 px; the view's page has an uptime strip. Screenshots of
// each page (desktop, 390 px, dark) go to ARTIFACTS. Last, a service that
// changed state 10,000 times: how long its timeline takes to draw is
// printed ("perf: ..."), not asserted.
// Plain node + assert: any failure exits non-zero with a message.

import assert from 'node:assert/strict';
import {
  LIVE, curl, environment, frames, launch, outside, poll, recordRequests, shooter, sleep, step,
} from './common.mjs';

const { BASE, ARTIFACTS, LABEL } = environment('history');
const FLAPS = Number(process.env.FLAPS || 10_000);

const api = (path) => JSON.parse(curl(BASE + path));
const post = (path, ...more) => curl('-X', 'POST', ...more, BASE + path);

const shot = shooter(ARTIFACTS, `${LABEL}-`);

/** Desktop, 390 px wide and dark: a screenshot each, and at 390 px
 * nothing wider than the screen. */
async function threeShots(page, name) {
  await shot(page, name);
  await page.setViewportSize({ width: 390, height: 800 });
  await frames(page);
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${name}: no sideways scrolling at 390 px (scrollWidth ${scroll} > clientWidth ${client})`);
  await shot(page, `${name}-phone`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, `${name}-phone-dark`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await shot(page, `${name}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

const { context, page, errors, close } = await launch();
// Every request of every page, to check where each one went.
const requests = recordRequests(context);

try {
  step('a scheduled job with a few runs, then a failing one with output');
  post('api/services/job.backup?schedule=0%202%20*%20*%20*&tz=Europe/Berlin&max_runtime=2h');
  for (const [i, ms] of [[1, 300], [2, 500], [3, 400]]) {
    post(`api/services/job.backup/start?rid=r${i}`);
    await sleep(ms);
    post(`api/services/job.backup/success?rid=r${i}`);
  }
  post('api/services/job.backup/start?rid=r4');
  await sleep(700);
  // A long unbroken line too: it wraps, the page does not scroll sideways.
  const output = `rsync: write failed on "/backup/db.tar": No space left on device (28)\n${'x'.repeat(300)}\ndisk full`;
  post('api/services/job.backup/3?rid=r4', '-H', 'Content-Type: text/plain', '--data-binary', output);
  assert.equal(api('api/services/job.backup').service.state, 'error');
  post('api/services/web.api?timeout=5m');
  post('api/services/job.nightly?schedule=30%203%20*%20*%201-5&tz=UTC');

  step('the row links to the page of the service');
  await page.goto(BASE);
  const link = page.locator('tr[data-service="job.backup"] td.name a');
  await link.waitFor({ timeout: LIVE });
  await link.click();
  const head = page.locator('[data-service-page="job.backup"]');
  await head.waitFor({ timeout: LIVE });
  assert.ok(page.url().endsWith('#/services/job.backup'), page.url());

  step('its schedule in words, its reason, its last run');
  assert.equal(await head.locator('[data-expectation]').textContent(),
    'every day at 02:00, Europe/Berlin, 1 h grace, runs at most 2 h');
  assert.equal(await head.locator('[data-reason]').textContent(), '— failed (exit 3)');
  // A run's length is real (its start and end are sent a moment apart), so
  // on a loaded machine it may be "1 s" rather than "NNN ms".
  assert.match(await head.locator('.facts').textContent(), /Last runtook \d[^·]* · exit code 3/);
  // The events and the history are read after the page opens.
  await poll('the typical run', async () => /Typical run\d[^(]*\(median of 4\)/.test(await head.locator('.facts').textContent()));
  await poll('the uptime', async () => /^24 h \d+\.\d\d %$/.test(await head.locator('[data-uptime="1d"]').textContent()));

  step('the failure\'s output is shown');
  const out = page.locator('li.event[data-kind="exit"] details.output[open] pre');
  await out.waitFor({ timeout: LIVE });
  assert.equal(await out.textContent(), output);
  assert.ok(await out.isVisible(), 'the output is on the screen');

  step('an output closed by the user stays closed across redraws');
  await page.locator('li.event[data-kind="exit"] details.output summary').click();
  await poll('the output closed', async () => (await page.locator('li.event[data-kind="exit"] details.output[open]').count()) === 0);
  post('api/services/job.backup/log', '-H', 'Content-Type: text/plain', '--data-binary', 'still here');
  await page.locator('li.event[data-kind="log"]').waitFor({ timeout: LIVE });
  assert.equal(await page.locator('li.event[data-kind="exit"] details.output[open]').count(), 0, 'still closed');
  await page.locator('li.event[data-kind="exit"] details.output summary').click();
  await page.locator('li.event[data-kind="exit"] details.output[open] pre').waitFor({ timeout: LIVE });

  step('a timeline with its ERROR span, runs and the failure');
  const timeline = page.locator('section.timeline svg.timeline');
  await timeline.waitFor({ timeout: LIVE });
  await poll('the history read', async () => Number(await page.locator('section.timeline').getAttribute('data-changes')) >= 1);
  assert.equal(await page.locator('section.timeline .note').count(), 0, 'the history was read');
  assert.ok(await timeline.locator('rect.span.error').count() >= 1, 'an ERROR span');
  // A history younger than the range fills the strip: the few seconds of
  // OK before the failure get columns of their own.
  assert.ok(await timeline.locator('rect.span.ok').count() >= 1, 'an OK span');
  assert.match(await page.locator('section.timeline .legend').textContent(), /known since \d\d:\d\d:\d\d/);
  const last = api('api/services/job.backup/history').changes.at(-1);
  assert.equal(last.to, 'error');
  assert.equal(await timeline.locator('line.run').count(), 4, 'four runs');
  assert.equal(await timeline.locator('line.run.error').count(), 1, 'one of them failed');
  assert.equal(await timeline.locator('line.failure').count(), 1, 'one failure mark');
  const errorSpan = await timeline.locator('rect.span.error').last().boundingBox();
  assert.ok(errorSpan.width >= 1 && errorSpan.height >= 10, `the ERROR span is visible: ${JSON.stringify(errorSpan)}`);
  assert.equal(await page.locator('svg.durations rect.bar').count(), 4, 'a bar per run');
  assert.equal(await page.locator('svg.durations rect.bar.error').count(), 1);
  await page.locator('.ranges button[data-range="7d"]').click();
  await page.locator('section.timeline[data-range="7d"]').waitFor({ timeout: LIVE });
  assert.equal(await page.locator('.ranges button[aria-pressed="true"]').textContent(), '7 d');
  await page.locator('.ranges button[data-range="24h"]').click();
  await page.locator('section.timeline[data-range="24h"]').waitFor({ timeout: LIVE });
  assert.ok(await page.locator('section.timeline svg rect.span.error').count() >= 1);
  await threeShots(page, 'service-failed');

  step('the page by its path, as a bookmark; a deadline that counts down');
  post('api/services/web.api'); // a beat: the deadline is 5 min away again
  await page.goto(BASE + 'services/web.api');
  await page.locator('[data-service-page="web.api"]').waitFor({ timeout: LIVE });
  assert.ok(page.url().endsWith('#/services/web.api'), page.url());
  assert.equal(await page.locator('[data-expectation]').textContent(), 'a beat at least every 5 min');
  const countdown = page.locator('[data-countdown]');
  const before = await countdown.textContent();
  assert.match(before, /^in [45] min \d+ s$/);
  await poll('the countdown to move', async () => (await countdown.textContent()) !== before, 5000);
  await page.goto(BASE + '#/services/job.nightly');
  await page.locator('[data-service-page="job.nightly"]').waitFor({ timeout: LIVE });
  assert.equal(await page.locator('[data-expectation]').textContent(),
    'every weekday (Monday to Friday) at 03:30, UTC, 1 h grace');
  assert.match(await page.locator('[data-countdown]').textContent(), /^in \d+ (h|d)/);

  step('a run in progress, with its elapsed time');
  post('api/services/job.nightly/start?rid=n1');
  const elapsed = page.locator('.running [data-elapsed]');
  await elapsed.waitFor({ timeout: LIVE });
  const first = await elapsed.textContent();
  await poll('the elapsed time to grow', async () => (await elapsed.textContent()) !== first, 5000);
  await page.locator('section.timeline line.run.open').waitFor({ state: 'attached', timeout: LIVE });
  await threeShots(page, 'service-running');
  post('api/services/job.nightly/success?rid=n1');

  step('the view\'s page has an uptime strip');
  await page.goto(BASE + 'views/jobs');
  const strip = page.locator('section.uptimestrip[data-uptime-view="jobs"]');
  await strip.waitFor({ timeout: LIVE });
  assert.equal(await strip.locator('svg.uptime rect.day').count(), 30);
  assert.ok(await strip.locator('rect.day.error, rect.day.warn').count() >= 1, 'today had an ERROR');
  assert.match(await strip.locator('[data-uptime="1d"]').textContent(), /^24 h \d+\.\d\d %$/);
  await threeShots(page, 'view-uptime');
  await page.goto(BASE);
  await page.locator('tr[data-service="job.backup"]').waitFor({ timeout: LIVE });
  await threeShots(page, 'services');

  step(`a service that changed state ${FLAPS} times`);
  const started = Date.now();
  // One more than asked: the first signal creates the service (NEW to ERROR).
  for (let i = 0; i <= FLAPS; i++) {
    const r = await fetch(`${BASE}api/services/flap.perf/${i % 2 ? 'success' : 'fail'}`, { method: 'POST' });
    assert.ok(r.ok, `signal ${i}: HTTP ${r.status}`);
    await r.arrayBuffer();
  }
  console.log(`flapped ${FLAPS} times in ${Date.now() - started} ms`);
  const hist = api('api/services/flap.perf/history');
  assert.ok(hist.changes.length >= FLAPS, `${hist.changes.length} changes kept`);
  await page.goto(BASE + '#/services/flap.perf');
  const section = page.locator('section.timeline');
  await poll('the history read', async () => Number(await section.getAttribute('data-changes')) >= FLAPS, 30_000);
  // The drawing itself (spans, columns, SVG), as the page measured it, and
  // from a click on a range to the next frame painted (layout included).
  const drawn = [];
  for (const range of ['30d', '7d', '24h', '30d', '24h']) {
    const ms = await page.evaluate(async (r) => {
      const t0 = performance.now();
      document.querySelector(`.ranges button[data-range="${r}"]`).click();
      await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
      return performance.now() - t0;
    }, range);
    const js = Number(await section.getAttribute('data-render-ms'));
    drawn.push({ range, js, paint: ms });
  }
  const reply = await page.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/flap.perf/history')).map((e) => [e.duration, e.encodedBodySize]).pop());
  console.log(`perf: history reply of ${FLAPS} changes (${Math.round(reply[1] / 1024)} KiB) read in ${reply[0].toFixed(1)} ms`);
  for (const d of drawn) console.log(`perf: timeline of ${FLAPS} changes, ${d.range}: drawn in ${d.js.toFixed(1)} ms, click to painted frame ${d.paint.toFixed(1)} ms`);
  await shot(page, 'flapping');

  assert.deepEqual(errors, [], 'no errors in the page');
  assert.ok(requests.length > 20, `requests recorded: ${requests.length}`);
  assert.deepEqual(requests.filter(outside), [], 'every request goes to 127.0.0.1');
  console.log(`${requests.length} requests, all to 127.0.0.1`);
  console.log('ok: all browser checks passed');
} finally {
  await close();
}
