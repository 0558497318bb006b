// Calls to the HTTP API, relative to the dashboard's root. A 401 asks for
// the access token (auth.js) and tries again with it.

import * as auth from './auth.js';

const root = window.LOVEBEAT_ROOT || './';

async function call(method, path, body, cancellable = true) {
  for (;;) {
    const opts = { method, headers: { Accept: 'application/json', ...auth.headers() } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(root + path, opts);
    let data = {};
    try { data = await r.json(); } catch (_) { /* empty body */ }
    if (r.status === 401) {
      await auth.ask(data.error || 'This Lovebeat needs an access token.', cancellable);
      continue;
    }
    if (!r.ok) throw new Error(data.error || `${method} ${path}: HTTP ${r.status}`);
    return data;
  }
}

const svc = (name) => 'api/services/' + encodeURIComponent(name);

const view = (name) => 'api/views/' + encodeURIComponent(name);
/** `forText`: "15m", "1h"... for a timed mute; "" or absent: until unmuted. */
const muteFor = (forText) => (forText ? '/mute?for=' + encodeURIComponent(forText) : '/mute');

export const mute = (name, forText) => call('POST', svc(name) + muteFor(forText));
export const unmute = (name) => call('POST', svc(name) + '/unmute');
export const remove = (name) => call('DELETE', svc(name));
export const muteView = (name, forText) => call('POST', view(name) + muteFor(forText));
export const unmuteView = (name) => call('POST', view(name) + '/unmute');
/** `{"views": [...], "now"}`: the views with their alert policy now (the
 * websocket sends a view again only when its state changes). */
export const views = () => call('GET', 'api/views');
/** `{"maintenance": [...], "now"}`. */
export const windows = () => call('GET', 'api/maintenance');
/** `spec`: the keys of POST /api/maintenance; returns `{"id"}`. */
export const addWindow = (spec) => call('POST', 'api/maintenance', spec);
export const deleteWindow = (id) => call('DELETE', 'api/maintenance/' + encodeURIComponent(id));
/** A service with its details (beat history, analysis). */
export const service = (name) => call('GET', svc(name) + '?details=1');
/** `{"events": [...], "now"}`: a job's signals, oldest first (SPEC 14.3). */
export const events = (name) => call('GET', svc(name) + '/events');
/** The state changes since `since` (ms) and the uptime (SPEC 18). */
export const serviceHistory = (name, since) => call('GET', svc(name) + '/history?since=' + Math.floor(since));
export const viewHistory = (name, since) => call('GET', view(name) + '/history?since=' + Math.floor(since));
/** Sets the timeout ("5m", "2h", "auto", "none", seconds) without a beat. */
export const setTimeout = (name, text) => call('POST', svc(name), { timeout: text, beat: false });
/** A cheap read before the websocket connects: with `[http] auth_read` it
 * asks for the token until the server takes it (the page is useless
 * without); it throws only when the server cannot be reached. */
export const probe = () => call('GET', 'version', undefined, false);

/** The curl command that creates a service, with this server's address
 * (and the token header, from an environment variable, when the page
 * has a token). */
export function curlExample() {
  const base = location.origin + root;
  const header = auth.token() ? `-H "Authorization: Bearer $LOVEBEAT_TOKEN" ` : '';
  return `curl ${header}-X POST '${base}api/services/my.first.service?timeout=5m'`;
}
