// The dashboard: keeps services and views from the websocket (a SNAPSHOT,
// then ADD/UPDATE/REMOVE, applied as upserts), routes on the fragment
// (#/, #/views/<name>, #/services/<name> and #/maintenance) and re-renders
// on change. Views
// are also read over the API now and then: their alert policy (maintenance,
// suppression) moves without a change of state, which is all the websocket
// sends a view again for.

import * as api from './api.js';
import * as fmt from './format.js';
import { connect } from './live.js';
import * as maintenance from './maintenance.js';
import * as render from './render.js';
import * as servicePage from './service.js';
import * as uptime from './uptime.js';

const root = window.LOVEBEAT_ROOT || './';
const services = new Map();
const views = new Map();
const ui = {
  now: Date.now(), skew: 0, loaded: false, conn: 'connecting',
  filter: '', selected: new Set(), editing: null, draft: '',
  muteFor: '', viewMuteFor: '', windows: null, windowsError: '',
};

function onMessage(m) {
  switch (m.type) {
    case 'SNAPSHOT':
      services.clear(); views.clear();
      for (const s of m.services || []) services.set(s.name, s);
      for (const v of m.views || []) views.set(v.name, v);
      ui.skew = (m.now || Date.now()) - Date.now();
      ui.loaded = true;
      break;
    case 'ADD_SERVICE': case 'UPDATE_SERVICE':
      services.set(m.service.name, m.service);
      if (route().service === m.service.name) servicePage.loadSoon(m.service.name, schedule);
      break;
    case 'REMOVE_SERVICE': services.delete(m.service.name); ui.selected.delete(m.service.name); break;
    case 'ADD_VIEW': case 'UPDATE_VIEW':
      views.set(m.view.name, m.view); refreshViewsSoon();
      if (route().view === m.view.name) uptime.load(m.view.name, schedule);
      break;
    case 'REMOVE_VIEW': views.delete(m.view.name); refreshViewsSoon(); break;
    default: return;
  }
  schedule();
}

function onState(state, delay) {
  ui.conn = state;
  const el = document.getElementById('conn');
  el.dataset.conn = state;
  el.textContent = state === 'live' ? '● live'
    : state === 'connecting' ? 'connecting…'
      : `offline, retrying in ${Math.round(delay / 1000)} s`;
}

let notice = null;
/** "1 service", "3 services". */
const serviceCount = (n) => `${n} service${n === 1 ? '' : 's'}`;

function tell(text, isError) {
  const el = document.getElementById('notice');
  el.textContent = text;
  el.className = 'notice' + (isError ? ' error' : '');
  el.hidden = false;
  clearTimeout(notice);
  notice = setTimeout(() => { el.hidden = true; }, isError ? 8000 : 3000);
}

function route() {
  if (/^#\/maintenance\/?$/.test(location.hash)) return { maintenance: true };
  const m = location.hash.match(/^#\/(views|services)\/([^/]+)\/?$/);
  if (!m) return {};
  return m[1] === 'views' ? { view: decodeURIComponent(m[2]) } : { service: decodeURIComponent(m[2]) };
}

/** Reads what the page of the route needs beyond the websocket's records. */
function loadRoute() {
  const r = route();
  if (r.maintenance) loadWindows();
  if (r.service !== undefined) servicePage.load(r.service, schedule);
  if (r.view !== undefined) uptime.load(r.view, schedule);
}

/** Reads the views with their alert policy (a view in ERROR holds the
 * alerts of the views that depend on it, a window opens or closes: no
 * websocket message says so). */
async function refreshViews() {
  try {
    const r = await api.views();
    // The whole list: a view removed while this read was on its way comes
    // back here, and goes again with the read its REMOVE_VIEW asks for.
    views.clear();
    for (const v of r.views || []) views.set(v.name, v);
    schedule();
  } catch (_) { /* the websocket's state tells the user */ }
}

let refreshTimer = null;
/** One read for a burst of view changes. */
function refreshViewsSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refreshViews(); }, 500);
}

async function loadWindows() {
  try {
    const r = await api.windows();
    ui.windows = r.maintenance || [];
    ui.windowsError = '';
  } catch (err) { ui.windowsError = err.message; }
  schedule();
}

const handlers = {
  onRange(r) { servicePage.setRange(r); schedule(); },
  onSelect(name, on) { on ? ui.selected.add(name) : ui.selected.delete(name); schedule(); },
  onSelectAll(list, on) { for (const s of list) on ? ui.selected.add(s.name) : ui.selected.delete(s.name); schedule(); },
  onFilter(text) { ui.filter = text; schedule(); },
  onEdit(s) {
    ui.editing = s.name;
    ui.draft = fmt.timeoutInput(s.timeout, s.auto_model);
    draw();
    const input = document.querySelector('td.timeout.editing input');
    if (input) { input.focus(); input.select(); }
  },
  onEditCancel() { if (ui.editing) { ui.editing = null; schedule(); } },
  async onEditKey(e, name) {
    if (e.key === 'Escape') { ui.editing = null; schedule(); return; }
    if (e.key !== 'Enter') return;
    const text = e.target.value.trim();
    ui.editing = null;
    schedule();
    try {
      await api.setTimeout(name, text);
      tell(`Timeout of ${name} set to ${text}.`);
    } catch (err) { tell(err.message, true); }
  },
  onMuteFor(value) { ui.muteFor = value; },
  onViewMuteFor(value) { ui.viewMuteFor = value; },
  async onMuteView(name) {
    try {
      await api.muteView(name, ui.viewMuteFor);
      tell(`Alerts of ${name} muted ${fmt.MUTE_CHOICES.find(([v]) => v === ui.viewMuteFor)[1]}.`);
    } catch (err) { tell(err.message, true); }
  },
  async onUnmuteView(name) {
    try {
      await api.unmuteView(name);
      tell(`Alerts of ${name} unmuted.`);
    } catch (err) { tell(err.message, true); }
  },
  async onAddWindow(spec) {
    try {
      const r = await api.addWindow(spec);
      tell(`Maintenance window ${r.id} added.`);
      loadWindows(); refreshViews();
      return true;
    } catch (err) { tell(err.message, true); return false; }
  },
  async onDeleteWindow(id) {
    if (!confirm(`Delete maintenance window ${id}? Alerts it holds go out now.`)) return;
    try {
      await api.deleteWindow(id);
      tell(`Maintenance window ${id} deleted.`);
    } catch (err) { tell(err.message, true); }
    loadWindows(); refreshViews();
  },
  async onAction(action) {
    const names = [...ui.selected];
    if (!names.length) return;
    if (action === 'delete' && !confirm(`Delete ${serviceCount(names.length)}? Their history is lost.`)) return;
    const forText = ui.muteFor;
    const call = { mute: (n) => api.mute(n, forText), unmute: api.unmute, delete: api.remove }[action];
    const results = await Promise.allSettled(names.map((n) => call(n)));
    const failed = results.filter((r) => r.status === 'rejected');
    ui.selected.clear(); // an action ends the selection: nothing acts twice by surprise
    if (failed.length) tell(`${failed.length} of ${names.length} failed: ${failed[0].reason.message}`, true);
    else if (action === 'mute') tell(`Muted ${serviceCount(names.length)} ${fmt.MUTE_CHOICES.find(([v]) => v === forText)[1]}.`);
    else tell(`${action === 'delete' ? 'Deleted' : 'Unmuted'} ${serviceCount(names.length)}.`);
    schedule();
  },
};

function matches(s) {
  const f = ui.filter.trim().toLowerCase();
  return !f || s.name.includes(f) || s.state === f;
}

let favicon = '';
function titleAndIcon(c) {
  document.title = c.error ? `(${c.error}) ERROR · Lovebeat` : 'Lovebeat';
  const colour = c.error ? '#d23b3b' : services.size ? '#2e9d57' : '#8a8f98';
  if (colour === favicon) return;
  favicon = colour;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="${colour}" d="M16 29 4.2 17.4C.6 13.8.9 8 4.8 5.2 8.2 2.7 12.8 3.5 16 7c3.2-3.5 7.8-4.3 11.2-1.8 3.9 2.8 4.2 8.6.6 12.2z"/></svg>`;
  const link = document.getElementById('favicon');
  if (link) link.href = 'data:image/svg+xml,' + encodeURIComponent(svg);
  document.documentElement.dataset.health = c.error ? 'error' : 'ok';
}

function draw() {
  pending = false;
  // An open choice of a mute's length is not redrawn away under the pointer.
  const focused = document.activeElement;
  if (focused && focused.matches && focused.matches('select.mutefor')) {
    setTimeout(schedule, 1000);
    return;
  }
  ui.now = Date.now() + ui.skew;
  const all = [...services.values()];
  const c = render.counts(all);
  render.header(c, document.getElementById('counts'));
  titleAndIcon(c);
  const main = document.getElementById('main');
  if (!ui.loaded) return;
  const active = document.activeElement;
  const typing = active && active.matches && active.matches('input.filter');
  const r = route();
  const ctx = { ...ui, ...handlers };
  const failed = render.failing(all);
  if (r.maintenance) {
    document.title = `Maintenance · ${document.title}`;
    const st = { windows: ui.windows, error: ui.windowsError, now: ui.now, onDelete: handlers.onDeleteWindow };
    // The form keeps what is being typed: only the list is redrawn.
    if (maintenance.shown(main)) main.querySelector('section.windowlist').replaceWith(maintenance.list(st));
    else main.replaceChildren(...maintenance.page(st, handlers.onAddWindow, (text) => tell(text, true)));
  } else if (r.service !== undefined) {
    document.title = `${r.service} · ${document.title}`;
    main.replaceChildren(...servicePage.render(r.service, services.get(r.service), ctx));
  } else if (r.view !== undefined) {
    const v = views.get(r.view);
    const members = render.sortServices(all.filter((s) => (s.views || []).includes(r.view)));
    document.title = `${r.view} · ${document.title}`;
    main.replaceChildren(render.viewHeader(v, members.length, failed.get(r.view) || [], ctx),
      uptime.section(r.view, ui.now, v && v.state) || '', render.toolbar(ctx),
      render.serviceTable(members.filter(matches), ctx));
  } else if (!services.size) {
    // No service yet: the curl command that creates one, and the views the
    // configuration defines already (they exist before their members).
    const vs = [...views.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    main.replaceChildren(render.firstRun(api.curlExample()), render.viewList(vs, failed, ui.now) || '');
  } else {
    const list = render.sortServices(all.filter(matches));
    const vs = [...views.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    main.replaceChildren(render.viewList(vs, failed, ui.now) || '',
      render.h('section.servicelist', {}, render.h('h2', {}, 'Services'), render.toolbar(ctx), render.serviceTable(list, ctx)));
  }
  // Keep typing in the filter box across redraws.
  if (typing) {
    const f = main.querySelector('input.filter');
    if (f) { f.focus(); f.setSelectionRange(f.value.length, f.value.length); }
  }
}

let pending = false;
function schedule() {
  // An open timeout editor is not redrawn under the user's fingers.
  if (pending || ui.editing) return;
  pending = true;
  requestAnimationFrame(draw);
}

function start() {
  window.addEventListener('hashchange', () => {
    ui.selected.clear(); ui.filter = '';
    loadRoute();
    scrollTo(0, 0);
    schedule();
  });
  setInterval(schedule, 5000); // "3 min ago" keeps moving
  // A deadline counts down, a run's time goes up: every second, in place.
  setInterval(() => servicePage.tick(document.getElementById('main'), Date.now() + ui.skew), 1000);
  setInterval(() => { // windows open and close on their own
    if (!ui.loaded) return;
    refreshViews();
    if (route().maintenance) loadWindows();
  }, 30_000);
  setInterval(() => { if (ui.loaded && (route().service !== undefined || route().view !== undefined)) loadRoute(); }, 60_000);
  loadRoute();
  connect(root, onMessage, onState, api.probe);
  schedule();
}

// This module is inserted by a script, so it may run before the body is parsed.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
