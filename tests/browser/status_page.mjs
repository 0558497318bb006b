// The public status page and a badge (SPEC 18) in Debian's chromium against
// a real lovebeat, started by tests/browser.rs with `[http] auth_token` and
// `auth_read = true`, views `db`, `web`, `secret` and `billing`, and a
// `[status_page]` listing `db` and `web` only; it passes LOVEBEAT_URL,
// ARTIFACTS, LABEL, TOKEN (for the setup's own curl calls, never given to
// the browser) and MODE: `hidden` (show_services = false) or `shown`
// (show_services = true, public_badges = true).
// Checks: the title, the listed views with their states, a 90-day uptime
// strip whose today is red, the open incident; no unlisted view and (unless
// shown) no service name anywhere in the DOM's text or attributes; every
// request the browser makes goes to 127.0.0.1 and is a GET; no token
// needed; no sideways scrolling at 390 px; dark mode; the meta refresh, and
// a recovery seen after a reload. In `shown` mode, the failing service is
// named (no other) and a badge is drawn as an <img>. Screenshots go to
// ARTIFACTS (status-page-desktop, -phone, -dark, -show-services, badge).
// Plain node + assert: any failure exits non-zero with a message.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  curl as plainCurl, environment, frames, launch, outside, poll, recordRequests, shooter, step,
} from './common.mjs';

const { BASE, ARTIFACTS } = environment();
const TOKEN = process.env.TOKEN;
const MODE = process.env.MODE;
assert.ok(TOKEN, 'TOKEN must be set');
assert.ok(['hidden', 'shown'].includes(MODE), `MODE must be hidden or shown, not ${MODE}`);
// The page is rendered at most once every 5 s: changes show within that.
const RENDERED = 30_000;
const UNLISTED = ['secret', 'billing'];
const SERVICES = ['web.frontend', 'db.primary', 'secret.thing', 'billing.cron'];

const curl = (...args) => plainCurl('-H', `Authorization: Bearer ${TOKEN}`, ...args);
const api = (path) => JSON.parse(curl(BASE + path));
const post = (path) => curl('-X', 'POST', BASE + path);

const shot = shooter(ARTIFACTS);

/** Everything the DOM holds as text or in an attribute (SVG titles and
 * aria-labels included), and the document's title. */
const domWords = (page) => page.evaluate(() => {
  const out = [document.title, document.documentElement.textContent];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) out.push(`${a.name}=${a.value}`);
  }
  return out.join('\n');
});

const viewState = (name) => { const v = api(`api/views/${name}`); return (v.view || v).state; };

const { context, page, errors, close } = await launch();
// Every request of every page: where it went and with which method.
const requests = recordRequests(context, (r) => ({ url: r.url(), method: r.method() }));

try {
  step('reads need the token: auth_read is on');
  assert.equal((await fetch(BASE + 'api/views')).status, 401, 'the API is closed without the token');

  step('web.frontend OK; db.primary, secret.thing and billing.cron in ERROR');
  post('api/services/web.frontend');
  post('api/services/db.primary?timeout=0');
  post('api/services/secret.thing?timeout=0');
  post('api/services/billing.cron?timeout=0');
  await poll('the views to settle', () => viewState('web') === 'ok'
    && ['db', 'secret', 'billing'].every((v) => viewState(v) === 'error'));

  step('the status page, without any token');
  let resp;
  await poll('the page to show the outage', async () => {
    resp = await page.goto(BASE + 'status-page');
    return (await page.locator('p.summary').textContent()) === '1 open incident';
  }, RENDERED);
  assert.equal(resp.status(), 200);
  assert.equal(await page.title(), 'Acme Status');
  assert.equal(await page.locator('h1').textContent(), 'Acme Status');
  assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), '60',
    'the page reloads itself');

  step('the listed views, in order, with their states');
  const sections = page.locator('section.view');
  assert.equal(await sections.count(), 2);
  assert.deepEqual(await sections.locator('h2').allTextContents(), ['db', 'web']);
  assert.deepEqual(await sections.locator('.head .state').allTextContents(), ['Outage', 'Operational']);
  const db = sections.nth(0);
  const web = sections.nth(1);
  assert.equal(await db.locator('.state').getAttribute('class'), 'state error');
  assert.equal(await web.locator('.state').getAttribute('class'), 'state ok');

  step('the open incident');
  const incident = db.locator('.incident');
  assert.match(await incident.textContent(),
    /^In ERROR since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(.+\) · 1 service failing/);
  assert.ok(await incident.isVisible());
  assert.equal(await web.locator('.incident').count(), 0);

  step('an uptime strip of 90 days per view, today red for db');
  for (const s of [db, web]) {
    const strip = s.locator('svg.strip');
    assert.equal(await strip.locator('rect').count(), 90);
    const box = await strip.boundingBox();
    assert.ok(box.width > 300 && box.height >= 20, `the strip is visible: ${JSON.stringify(box)}`);
  }
  assert.equal(await db.locator('svg.strip rect').last().getAttribute('class'), 'd-down');
  assert.equal(await web.locator('svg.strip rect').last().getAttribute('class'), 'd-ok');
  const todayFill = await db.locator('svg.strip rect').last().evaluate((r) => getComputedStyle(r).fill);
  const webFill = await web.locator('svg.strip rect').last().evaluate((r) => getComputedStyle(r).fill);
  assert.notEqual(todayFill, webFill, 'a day in ERROR looks unlike a green one');
  assert.equal(await web.locator('.legend .up').textContent(), '100 % uptime');
  // Days without data recede behind the days that have some.
  const noData = db.locator('svg.strip rect.d-none').first();
  const noDataFill = await noData.evaluate((r) => getComputedStyle(r).fill);
  assert.ok(![todayFill, webFill].includes(noDataFill), `a day without data has its own look: ${noDataFill}`);

  step('no unlisted view, and services only when shown');
  const words = await domWords(page);
  for (const name of UNLISTED) assert.ok(!words.includes(name), `unlisted view ${name} is in the page`);
  for (const name of SERVICES) {
    const expected = MODE === 'shown' && name === 'db.primary';
    assert.equal(words.includes(name), expected, `${name} ${expected ? 'missing from' : 'shown on'} the page`);
  }
  if (MODE === 'shown') {
    assert.deepEqual(await incident.locator('li').allTextContents(), ['db.primary']);
  } else {
    assert.equal(await incident.locator('li').count(), 0);
  }
  assert.equal(await page.locator('form, input, button, script, a[href], iframe').count(), 0,
    'nothing to click, type or run');

  if (MODE === 'hidden') {
    step('desktop, 390 px and dark');
    await shot(page, 'status-page-desktop');
    await page.setViewportSize({ width: 390, height: 800 });
    await frames(page);
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `no sideways scrolling at 390 px (scrollWidth ${scroll} > clientWidth ${client})`);
    const stripBox = await db.locator('svg.strip').boundingBox();
    assert.ok(stripBox.x >= 0 && stripBox.x + stripBox.width <= 390, `the strip fits: ${JSON.stringify(stripBox)}`);
    await shot(page, 'status-page-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    await frames(page);
    const dark = await page.evaluate(() => ({
      bg: getComputedStyle(document.body).backgroundColor,
      fg: getComputedStyle(document.body).color,
    }));
    assert.notEqual(dark.bg, light, 'the dark scheme changes the background');
    const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return (r + g + b) / 3; };
    assert.ok(lum(dark.bg) < 60 && lum(dark.fg) > 180, `dark: light text on a dark ground: ${JSON.stringify(dark)}`);
    const darkNoData = await noData.evaluate((r) => getComputedStyle(r).fill);
    assert.ok(lum(darkNoData) < lum(noDataFill) && lum(darkNoData) < 100,
      `dark: days without data stay dim (${noDataFill} in light, ${darkNoData} in dark)`);
    await shot(page, 'status-page-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    step('a recovery shows after a reload');
    post('api/services/db.primary?timeout=-1');
    await poll('db to recover', () => viewState('db') === 'ok');
    await poll('the page to show the recovery', async () => {
      await page.reload();
      return (await page.locator('p.summary').textContent()) === 'All systems operational';
    }, RENDERED);
    assert.deepEqual(await page.locator('section.view .head .state').allTextContents(), ['Operational', 'Operational']);
    assert.equal(await page.locator('.incident').count(), 0);
  } else {
    await shot(page, 'status-page-show-services');

    step('a badge as an <img> (public_badges), no token');
    // A tiny page of the server's own origin (an about:blank page may not
    // load from 127.0.0.1), answered by the browser itself.
    const tiny = `${BASE}badge-test.html`;
    await page.route(tiny, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><body style="margin:16px;background:#fff">
        <img id="db" src="badge/db.svg" alt="db"> <img id="web" src="badge/web.svg" alt="web"></body>`,
    }));
    await page.goto(tiny);
    await poll('the badges to load', () => page.evaluate(() => [...document.images]
      .every((i) => i.complete && i.naturalWidth > 0)));
    const dims = await page.evaluate(() => [...document.images].map((i) => [i.naturalWidth, i.naturalHeight]));
    for (const [w, h] of dims) assert.ok(w > 40 && h >= 18 && h <= 24, `a badge's size: ${w}x${h}`);
    await page.screenshot({ path: join(ARTIFACTS, 'badge.png'), clip: { x: 0, y: 0, width: 320, height: 60 } });
  }

  step('every request went to 127.0.0.1, and none wrote');
  assert.deepEqual(errors, [], 'no errors in the page');
  assert.ok(requests.length >= 2, `requests recorded: ${requests.length}`);
  assert.deepEqual(requests.filter((r) => outside(r.url)), [], 'every request goes to 127.0.0.1');
  const writes = requests.filter((r) => r.method !== 'GET');
  assert.deepEqual(writes, [], 'no request writes');
  const paths = new Set(requests.map((r) => new URL(r.url).pathname));
  console.log(`${requests.length} requests, all GET to 127.0.0.1: ${[...paths].join(', ')}`);
  console.log('ok: all browser checks passed');
} finally {
  await close();
}
