// The dashboard against a lovebeat with an access token, in Debian's
// chromium (headless, playwright-core). Started by tests/browser.rs with:
//   LOVEBEAT_URL   the dashboard's URL (direct, or through nginx at a sub-path)
//   TOKEN          the server's [http] auth_token
//   MODE           "read"  (auth_read = true: the page asks before it shows anything)
//                  "write" (only changes need the token: asked on the first mute)
//   ARTIFACTS, LABEL  screenshots
// Plain node + assert: any failure exits non-zero with a message.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { LIVE, environment, launch, poll, row, shooter, step } from './common.mjs';

const { BASE, ARTIFACTS, LABEL } = environment('auth');
const TOKEN = process.env.TOKEN;
const MODE = process.env.MODE;
assert.ok(TOKEN && ['read', 'write'].includes(MODE), 'TOKEN and MODE (read|write) must be set');

/** curl with the token; returns [HTTP status, body]. */
function curl(method, path, token = TOKEN) {
  const args = ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}', '-X', method];
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  const out = execFileSync('curl', [...args, BASE + path], { encoding: 'utf8' });
  const at = out.lastIndexOf('\n');
  return [Number(out.slice(at + 1)), out.slice(0, at)];
}
const state = (name) => JSON.parse(curl('GET', `api/services/${name}`)[1]).service.state;

const shot = shooter(ARTIFACTS, `${LABEL}-`);
const form = (page) => page.locator('#login:not([hidden])');

async function enterToken(page, token) {
  await form(page).waitFor({ timeout: LIVE });
  await page.locator('#login input').fill(token);
  await page.locator('#login button[type="submit"]').click();
}

// Expected: the 401s that make the page ask for the token.
const { page, errors, close } = await launch({ expected: /status of 401/ });
// Every websocket the page opens, with the subprotocol the server chose.
const sockets = [];
page.on('websocket', (ws) => sockets.push(ws.url()));

try {
  const [created] = curl('POST', 'api/services/web.alpha?timeout=1h');
  assert.equal(created, 200, 'a beat with the token works');
  assert.equal(curl('POST', 'api/services/web.nope', '')[0], 401, 'a beat without it is refused');
  assert.equal(curl('POST', 'api/services/web.nope', 'wrong-token-0123456789')[0], 401);
  assert.equal(curl('GET', 'api/services/web.nope')[0], 404, 'and nothing was created');

  if (MODE === 'read') {
    step('the page loads without a token and asks for one');
    assert.equal(curl('GET', 'api/services', '')[0], 401, 'reads need the token');
    await page.goto(BASE);
    await form(page).waitFor({ timeout: LIVE });
    assert.match(await page.locator('#login .why').textContent(), /access token is required/);
    assert.equal(await page.locator('#login button.cancel').isVisible(), false, 'no way around it');
    assert.notEqual(await page.locator('#conn').getAttribute('data-conn'), 'live');
    assert.equal(await row(page, 'web.alpha').count(), 0, 'nothing shown without the token');
    assert.equal(sockets.length, 0, 'no websocket tried without a token');
    await shot(page, 'asks-for-token');

    step('a wrong token is refused and asked for again');
    await enterToken(page, 'wrong-token-0123456789');
    await poll('the refusal', async () => /not valid/.test(await page.locator('#login .why').textContent()));
    assert.equal(await page.locator('#conn').getAttribute('data-conn'), 'connecting');

    step('the right token: services show, live');
    await enterToken(page, TOKEN);
    await page.locator('#conn[data-conn="live"]').waitFor({ timeout: LIVE });
    await row(page, 'web.alpha').waitFor({ timeout: LIVE });
    assert.equal(await form(page).count(), 0, 'the form is gone');
    curl('POST', 'api/services/web.beta?timeout=1h');
    await row(page, 'web.beta').waitFor({ timeout: LIVE });
    const stored = await page.evaluate(() => Object.entries(localStorage));
    assert.equal(stored.length, 1, `one stored token: ${JSON.stringify(stored)}`);
    assert.equal(stored[0][1], TOKEN);
    assert.ok(stored[0][0].startsWith('lovebeat.token:'), stored[0][0]);
  } else {
    step('reads are open: the page shows the services live without a token');
    await page.goto(BASE);
    await page.locator('#conn[data-conn="live"]').waitFor({ timeout: LIVE });
    await row(page, 'web.alpha').waitFor({ timeout: LIVE });
    assert.equal(await form(page).count(), 0);
  }

  step('mute from the page: asks for the token when it has none, then mutes');
  const hadToken = MODE === 'read';
  await row(page, 'web.alpha').locator('td.pick input').check();
  await page.locator('button[data-action="mute"]').click();
  if (!hadToken) {
    await form(page).waitFor({ timeout: LIVE });
    assert.match(await page.locator('#login .why').textContent(), /required for changes/);
    assert.equal(state('web.alpha'), 'ok', 'nothing changed before the token');
    await shot(page, 'asks-on-mute');
    await enterToken(page, TOKEN);
  }
  await poll('web.alpha muted in the API', () => state('web.alpha') === 'muted');
  await page.locator('tr[data-service="web.alpha"][data-state="muted"]').waitFor({ timeout: LIVE });
  await shot(page, 'muted');

  step('the token is kept: after a reload the page works without asking');
  await page.reload();
  await page.locator('#conn[data-conn="live"]').waitFor({ timeout: LIVE });
  await row(page, 'web.alpha').waitFor({ timeout: LIVE });
  await row(page, 'web.alpha').locator('td.pick input').check();
  await page.locator('button[data-action="unmute"]').click();
  await poll('web.alpha unmuted in the API', () => state('web.alpha') === 'ok');
  assert.equal(await form(page).count(), 0, 'not asked again');

  if (MODE === 'write') {
    step('without a token, Cancel leaves everything as it was');
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await row(page, 'web.alpha').waitFor({ timeout: LIVE });
    await row(page, 'web.alpha').locator('td.pick input').check();
    await page.locator('button[data-action="mute"]').click();
    await form(page).waitFor({ timeout: LIVE });
    await page.locator('#login button.cancel').click();
    await poll('a failure notice', async () => /no access token given/.test(await page.locator('#notice').textContent()));
    assert.equal(state('web.alpha'), 'ok');
  }

  assert.ok(sockets.length > 0 && sockets.every((u) => u.startsWith(BASE.replace(/^http/, 'ws'))), JSON.stringify(sockets));
  assert.deepEqual(errors, [], 'no errors in the page (a CSP violation would be one)');
  console.log('ok: all browser checks passed');
} finally {
  await close();
}
