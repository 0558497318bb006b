// The access token ([http] auth_token), for servers that want one: asked
// for in a small form when the server answers 401, kept in local storage
// (one entry per dashboard root), sent as `Authorization: Bearer <token>`
// on API calls and, since a browser cannot set headers on a websocket, as
// the subprotocol `bearer.<base64url(token)>` next to `lovebeat`.

const KEY = 'lovebeat.token:' + (window.LOVEBEAT_ROOT || './');

export function token() {
  try { return localStorage.getItem(KEY) || ''; } catch (_) { return ''; }
}

function keep(t) {
  try { localStorage.setItem(KEY, t); } catch (_) { /* private mode: this page only */ }
  memory = t;
}
let memory = '';
const current = () => token() || memory;

/** Headers for fetch: the token, when there is one. */
export function headers() {
  const t = current();
  return t ? { Authorization: 'Bearer ' + t } : {};
}

function base64url(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Subprotocols for `new WebSocket`: none without a token. */
export function protocols() {
  const t = current();
  return t ? ['lovebeat', 'bearer.' + base64url(t)] : undefined;
}

let asking = null;

/** Shows the form with the server's `message` and resolves once a token
 * is entered (every caller waiting meanwhile shares the one form). With
 * `cancellable`, Cancel rejects. */
export function ask(message, cancellable) {
  if (asking) return asking;
  asking = new Promise((resolve, reject) => {
    const form = document.getElementById('login');
    const input = form.querySelector('input');
    const cancel = form.querySelector('button.cancel');
    form.querySelector('.why').textContent = message;
    cancel.hidden = !cancellable;
    form.hidden = false;
    input.value = '';
    input.focus();
    const done = () => {
      form.hidden = true;
      form.onsubmit = null;
      cancel.onclick = null;
      asking = null;
    };
    form.onsubmit = (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      keep(t);
      done();
      resolve(t);
    };
    cancel.onclick = () => { done(); reject(new Error('no access token given')); };
  });
  return asking;
}
