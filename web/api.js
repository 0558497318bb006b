// Calls to the HTTP API, relative to the dashboard's root.

const root = window.LOVEBEAT_ROOT || './';

async function call(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(root + path, opts);
  let data = {};
  try { data = await r.json(); } catch (_) { /* empty body */ }
  if (!r.ok) throw new Error(data.error || `${method} ${path}: HTTP ${r.status}`);
  return data;
}

const svc = (name) => 'api/services/' + encodeURIComponent(name);

export const mute = (name) => call('POST', svc(name) + '/mute');
export const unmute = (name) => call('POST', svc(name) + '/unmute');
export const remove = (name) => call('DELETE', svc(name));
/** Sets the timeout ("5m", "2h", "auto", "none", seconds) without a beat. */
export const setTimeout = (name, text) => call('POST', svc(name), { timeout: text, beat: false });

/** The curl command that creates a service, with this server's address. */
export function curlExample() {
  const base = location.origin + root;
  return `curl -X POST '${base}api/services/my.first.service?timeout=5m'`;
}
