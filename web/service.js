// A service's own page (#/services/<name>, SPEC 18): what it expects in
// words, its deadline counting down, the run in progress, last and typical
// duration, exit code and reason, a timeline of 24 h / 7 d / 30 d, the run
// durations and the recent events with their output. The live record comes
// from the websocket (app.js); the details (beat history), the events and
// the history are read over the API when the page opens and again after
// each change of the service. Expanded outputs and the chosen range stay
// across redraws.

import * as api from './api.js';
import * as charts from './charts.js';
import * as fmt from './format.js';
import { h, icon } from './render.js';
import * as words from './words.js';

const DAY = 24 * 3600 * 1000;
export const RANGES = { '24h': ['24 h', DAY], '7d': ['7 d', 7 * DAY], '30d': ['30 d', 30 * DAY] };
const EVENTS_SHOWN = 30;
const RUNS_CHARTED = 50;

/** What was read for the page shown; `open` = event numbers expanded (true)
 * or closed (false) by the user. */
const page = {
  name: null, details: null, events: [], hist: null, histError: '', error: '',
  range: '24h', open: new Map(), renderMs: null,
};
let seq = 0;

/** Reads everything the page needs for `name` (the live record aside);
 * `done` is called after, to redraw. */
export async function load(name, done) {
  if (page.name !== name) {
    Object.assign(page, { name, details: null, events: [], hist: null, histError: '', error: '', open: new Map() });
  }
  const mine = ++seq;
  const since = Date.now() - 30 * DAY;
  const [d, e, hi] = await Promise.allSettled([api.service(name), api.events(name), api.serviceHistory(name, since)]);
  if (mine !== seq) return; // a newer read is on its way
  page.error = d.status === 'rejected' ? d.reason.message : '';
  if (d.status === 'fulfilled') page.details = d.value.service;
  if (e.status === 'fulfilled') page.events = e.value.events || [];
  if (hi.status === 'fulfilled') { page.hist = hi.value; page.histError = ''; } else page.histError = hi.reason.message;
  done();
}

let timer = null;
/** One read for a burst of changes of the service shown. */
export function loadSoon(name, done) {
  if (timer) return;
  timer = setTimeout(() => { timer = null; load(name, done); }, 300);
}

export function setRange(r) { if (RANGES[r]) page.range = r; }

/** The runs the events tell of: `{from, to, duration, ok, text}`, oldest first. */
export function runsOf(events) {
  return events.filter((e) => e.duration != null).map((e) => {
    const ok = e.kind === 'success' || (e.kind === 'exit' && e.exit_code === 0);
    return { from: e.ts - e.duration, to: e.ts, duration: e.duration, ok, text: `${eventWord(e)}, took ${took(e.duration)} (${fmt.exact(e.ts)})` };
  });
}

/** The middle value (null for none). */
export function median(list) {
  if (!list.length) return null;
  const s = [...list].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

const took = (ms) => (ms < 1000 ? `${ms} ms` : fmt.duration(ms));
const failed = (e) => e.kind === 'fail' || (e.kind === 'exit' && e.exit_code !== 0);
const eventWord = (e) => (e.kind === 'exit' ? `exit ${e.exit_code}` : e.kind);

/** The text of the countdown to `deadline`: "in 4 min 3 s", "due now". */
export function countdown(deadline, now) {
  const d = deadline - now;
  if (d < 1000) return 'due now';
  const s = Math.floor(d / 1000);
  if (s < 3600) return `in ${Math.floor(s / 60) ? `${Math.floor(s / 60)} min ` : ''}${s % 60} s`;
  return `in ${fmt.duration(d)}`;
}

/** The live parts (countdown, elapsed time of a run) of the page in `root`,
 * every second, without a redraw. */
export function tick(root, now) {
  for (const e of root.querySelectorAll('[data-countdown]')) e.textContent = countdown(Number(e.dataset.countdown), now);
  for (const e of root.querySelectorAll('[data-elapsed]')) e.textContent = fmt.duration(Math.max(0, now - Number(e.dataset.elapsed)));
}

function fact(label, ...value) {
  return h('div.fact', {}, h('dt', {}, label), h('dd', {}, ...value));
}

/** A fact that takes a whole line on a phone. */
function wide(label, ...value) {
  const f = fact(label, ...value);
  f.classList.add('wide');
  return f;
}

/** The history to draw: the API's, or (while it cannot be read) what the
 * record knows: the state since its last change. */
function history(s) {
  if (page.hist && page.hist.name === s.name) return page.hist;
  return { state_at_since: s.state, known_since: s.last_state_change || null, changes: [] };
}

function facts(s, runs, now) {
  const out = [];
  const why = fmt.reason(s);
  const state = fact('State', h('span.state.' + s.state, {}, icon(s.state), h('span.label', {}, s.state)),
    why ? h('span.why', { 'data-reason': s.reason }, `— ${why}`) : '',
    s.last_state_change > 0 ? h('span.since', { title: fmt.exact(s.last_state_change) }, `since ${fmt.clock(s.last_state_change, now)}`) : '');
  state.querySelector('dd').classList.add('statefact');
  out.push(state);
  out.push(fact('Next deadline', s.next_deadline != null
    ? h('span', { title: fmt.deadlineTitle(s) }, h('span.countdown', { 'data-countdown': s.next_deadline }, countdown(s.next_deadline, now)),
      h('span.at', {}, ` (${fmt.clock(s.next_deadline, now, true)})`))
    : h('span', { title: fmt.deadlineTitle(s) }, fmt.deadline(s, now))));
  if (s.running_since != null) {
    out.push(fact('Running', h('span.running', {}, 'for ', h('span', { 'data-elapsed': s.running_since }, fmt.duration(Math.max(0, now - s.running_since))),
      s.open_runs > 1 ? ` (${s.open_runs} runs)` : '', h('span.at', {}, ` since ${fmt.clock(s.running_since, now, true)}`))));
  }
  if (s.last_duration != null || s.last_exit_code != null) {
    out.push(fact('Last run', [s.last_duration != null ? `took ${took(s.last_duration)}` : '',
      s.last_exit_code != null ? `exit code ${s.last_exit_code}` : ''].filter(Boolean).join(' · ')));
  }
  const typical = median(runs.map((r) => r.duration));
  if (typical != null) out.push(fact('Typical run', `${took(typical)} `, h('span.at', {}, `(median of ${runs.length})`)));
  out.push(fact('Last beat', h('span', { title: fmt.exact(s.last_beat) }, fmt.ago(s.last_beat, now))));
  if (s.analysis) out.push(fact('Interval', fmt.interval(s.analysis)));
  if (s.views && s.views.length) {
    out.push(wide('Views', s.views.flatMap((v, i) => [i ? ', ' : '', h('a', { href: '#/views/' + encodeURIComponent(v) }, v)])));
  }
  const hist = page.hist && page.hist.name === s.name ? page.hist : null;
  if (hist && hist.uptime) {
    out.push(wide('Uptime', h('span.uptimes', {}, Object.entries({ '1d': '24 h', '7d': '7 d', '30d': '30 d' })
      .map(([k, label]) => h('span', { 'data-uptime': k }, `${label} ${charts.percent(hist.uptime[k])}`)))));
  }
  return h('dl.facts', {}, out);
}

function timelineSection(s, runs, ui) {
  const now = ui.now;
  const started = performance.now();
  const hist = history(s);
  // A history younger than the range fills the strip (with a little lead,
  // at least 10 s in all): a new service is not a hairline at the end of
  // a grey day.
  const known = hist.known_since;
  const young = known != null && known > now - RANGES[page.range][1];
  const from = young ? Math.min(known - Math.max(1000, (now - known) * 0.05), now - 10_000) : now - RANGES[page.range][1];
  const span = now - from;
  const short = span < 3600_000;
  const list = charts.spans(hist, from, now, s.state);
  const beats = [...(page.details && page.details.beat_history) || [], s.last_beat,
    ...page.events.filter((e) => e.kind === 'success' && e.duration == null).map((e) => e.ts)].filter((b) => b > 0);
  const marks = {
    beats,
    runs: s.running_since != null ? [...runs, { from: s.running_since, to: now, ok: null, text: 'running' }] : runs,
    failures: page.events.filter(failed).map((e) => ({ at: e.ts, text: `${eventWord(e)} at ${fmt.exact(e.ts)}` })),
  };
  const svg = charts.timeline(list, marks, from, now, now);
  page.renderMs = performance.now() - started;
  const changes = (hist.changes || []).filter((c) => c.at >= from).length;
  return h('section.timeline', { 'data-range': page.range, 'data-changes': changes, 'data-render-ms': page.renderMs.toFixed(2) },
    h('div.head', {}, h('h2', {}, 'Timeline'),
      h('div.ranges', { role: 'group', 'aria-label': 'time range' }, Object.entries(RANGES).map(([k, [label]]) =>
        h('button', { type: 'button', 'data-range': k, 'aria-pressed': String(k === page.range), onclick: () => ui.onRange(k) }, label)))),
    svg,
    h('div.axis', {}, h('span', {}, fmt.clock(from, now, short)), h('span', {}, fmt.clock(from + span / 2, now, short)), h('span', {}, 'now')),
    h('p.legend', {},
      h('span.key.ok', {}, 'OK'), h('span.key.error', {}, 'ERROR'), h('span.key.none', {}, 'not known'),
      h('span.key.beat', {}, 'beats'), h('span.key.run', {}, 'runs'), h('span.key.failure', {}, 'failures'),
      ` · ${changes} change${changes === 1 ? '' : 's'}`,
      from > now - RANGES[page.range][1] ? ` · known since ${fmt.clock(known, now, true)}` : ''),
    hist.omitted > 0 ? h('p.note', {}, hist.omitted === 1 ? 'The oldest change of the last 30 days is not shown (too many).'
      : `The oldest ${hist.omitted} changes of the last 30 days are not shown (too many).`) : null,
    page.histError ? h('p.note', {}, `History not available: ${page.histError}`) : null);
}

function durationSection(runs) {
  if (!runs.length) return null;
  const shown = runs.slice(-RUNS_CHARTED);
  const typical = median(shown.map((r) => r.duration));
  const longest = Math.max(...shown.map((r) => r.duration));
  return h('section.runchart', {},
    h('h2', {}, 'Run durations'),
    h('p.caption', {}, `last ${shown.length} run${shown.length === 1 ? '' : 's'} · longest ${took(longest)} · median ${took(typical)} (dashed)`),
    charts.durations(shown, typical));
}

function eventItem(e, openByDefault, onToggle) {
  const bad = failed(e);
  const head = h('div.ehead', {},
    h('span.kind' + (bad ? '.error' : ''), {}, eventWord(e)),
    h('span.when', { title: fmt.exact(e.ts) }, fmt.clock(e.ts, Date.now(), true)),
    e.duration != null ? h('span.took', {}, `took ${took(e.duration)}`) : null,
    e.rid ? h('span.rid', {}, `run ${e.rid}`) : null,
    h('span.src', {}, e.remote_addr ? `${e.source} ${e.remote_addr}` : e.source));
  let output = null;
  if (e.body != null) {
    const open = page.open.has(e.n) ? page.open.get(e.n) : openByDefault;
    const size = new TextEncoder().encode(e.body).length;
    const d = h('details.output', { 'data-event': e.n },
      h('summary', {}, `output (${size} byte${size === 1 ? '' : 's'}${e.body_truncated ? ', cut' : ''})`),
      h('pre', {}, e.body));
    d.open = open;
    d.addEventListener('toggle', () => onToggle(e.n, d.open));
    output = d;
  } else if (e.body_dropped) output = h('p.note', {}, 'output dropped (memory limit)');
  return h('li.event' + (bad ? '.error' : ''), { 'data-n': e.n, 'data-kind': e.kind }, head, output);
}

function eventsSection() {
  const list = page.events.slice(-EVENTS_SHOWN).reverse();
  if (!list.length) return h('section.events', {}, h('h2', {}, 'Recent events'), h('p.note', {}, 'No job signals yet (plain beats are not kept as events).'));
  // The newest failure's output is open unless the user closed it.
  const lastFailure = list.find((e) => failed(e) && e.body != null);
  const onToggle = (n, open) => page.open.set(n, open);
  return h('section.events', {}, h('h2', {}, 'Recent events'),
    h('ol.eventlist', {}, list.map((e) => eventItem(e, e === lastFailure, onToggle))));
}

/** The page's children for service `name`; `live` is the websocket's
 * record (undefined when unknown), `ui` has `now` and `onRange`. */
export function render(name, live, ui) {
  const back = h('a.back', { href: '#/' }, '← all services');
  const s = live || (page.name === name ? page.details : null);
  if (!s) {
    const why = page.name === name && page.error ? page.error : 'Loading…';
    return [h('section.servicehead', {}, back, h('h1', {}, h('span.name', {}, name)), h('p.note', {}, why))];
  }
  const runs = runsOf(page.name === name ? page.events : []);
  return [
    h('section.servicehead', { 'data-service-page': s.name, 'data-state': s.state }, back,
      h('h1', {}, icon(s.state), h('span.name', {}, s.name)),
      h('p.expect', { 'data-expectation': '' }, words.expectation(s)),
      s.schedule ? h('p.cron', {}, h('code', {}, s.schedule)) : null,
      facts(s, runs, ui.now)),
    timelineSection(s, runs, ui),
    durationSection(runs),
    eventsSection(),
  ].filter(Boolean);
}
