// The websocket: derives its URL from the page's own location (so it works
// under any sub-path), hands every message to `onMessage`, reports its state
// and reconnects by itself (1 s, 2 s, ... at most 5 s apart). Before each
// attempt `ready()` runs (a cheap API read that asks for the access token
// if the server wants one); the token goes along as a subprotocol.

import * as auth from './auth.js';

export function connect(root, onMessage, onState, ready) {
  let delay = 1000;
  let timer = null;
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + root + 'ws';

  async function open() {
    onState('connecting');
    try { await ready(); } catch (_) { return retry(); }
    let ws;
    try { ws = new WebSocket(url, auth.protocols()); } catch (_) { return retry(); }
    ws.onopen = () => { delay = 1000; onState('live'); };
    ws.onmessage = (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch (_) { return; }
      onMessage(msg);
    };
    ws.onclose = () => retry();
    ws.onerror = () => { /* onclose follows */ };
  }

  function retry() {
    if (timer) return;
    onState('offline', delay);
    timer = setTimeout(() => { timer = null; open(); }, delay);
    delay = Math.min(delay * 2, 5000);
  }

  open();
}
