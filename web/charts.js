// The pictures of the service and view pages, drawn as SVG by this file
// (SPEC 18: no chart library): the timeline strip (OK/ERROR spans, beats,
// runs, failures), the run-duration chart and a view's daily uptime strip.
// The strips are stretched to the width of the page (viewBox units, not
// pixels; marks keep their pixel width with non-scaling strokes), and the
// text around them is HTML, so nothing is squeezed at phone width.
// A history is reduced to one state per column before anything is drawn:
// 10,000 changes cost one pass, and the SVG has at most a rect per column.

import * as fmt from './format.js';

const NS = 'http://www.w3.org/2000/svg';
/** Columns of a strip (viewBox units across). */
export const COLUMNS = 600;
/** Which state a column shows when several were in force in it. */
const RANK = { none: 0, new: 1, ok: 2, muted: 3, error: 4 };

function el(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c) e.append(c);
  return e;
}

const title = (text) => el('title', {}, document.createTextNode(text));

/** The spans of a history reply within [from, to): `{from, to, state,
 * reason}` in order; time before `known_since` is "none" (not known), and
 * so is the time of changes the reply left out (`omitted`: its oldest).
 * The state before the first change is that change's `from` (the reply's
 * `state_at_since` is "new" when its window starts before the history);
 * without changes it is `current` (the record's state) in that case. */
export function spans(hist, from, to, current) {
  const out = [];
  const first = (hist.changes || [])[0];
  let known = hist.known_since != null ? Math.max(from, hist.known_since) : to;
  if (hist.omitted > 0 && first) known = Math.max(known, Math.min(first.at, to));
  if (known > from) out.push({ from, to: Math.min(known, to), state: 'none' });
  const before = hist.since == null || hist.known_since == null || hist.since < hist.known_since;
  let at = known, reason = '';
  let state = first && first.from ? first.from : before && current ? current : hist.state_at_since || 'new';
  for (const c of hist.changes || []) {
    if (c.at <= at) { state = c.to; reason = c.reason || ''; continue; }
    if (c.at >= to) break;
    out.push({ from: at, to: c.at, state, reason });
    at = c.at; state = c.to; reason = c.reason || '';
  }
  if (at < to) out.push({ from: at, to, state, reason });
  return out;
}

/** One state per column over [from, to) (the worst one in force in it). */
export function columns(list, from, to, n = COLUMNS) {
  const cols = new Array(n).fill('none');
  const w = (to - from) / n;
  for (const s of list) {
    const a = Math.max(0, Math.floor((s.from - from) / w));
    const b = Math.min(n, Math.ceil((s.to - from) / w));
    for (let i = a; i < b; i++) if (RANK[s.state] > RANK[cols[i]]) cols[i] = s.state;
  }
  return cols;
}

/** Runs of equal columns: `[{start, end, state}]` in column indexes. */
function runsOf(cols) {
  const out = [];
  for (let i = 0; i < cols.length; i++) {
    const last = out[out.length - 1];
    if (last && last.state === cols[i]) last.end = i + 1;
    else out.push({ start: i, end: i + 1, state: cols[i] });
  }
  return out;
}

const WORD = { none: 'not known', new: 'new', ok: 'OK', muted: 'muted', error: 'ERROR' };

/** The timeline: a state strip over [from, to), and under it the beats,
 * the runs (start to end, green or red) and the failures as marks.
 * `marks` = `{beats: [ms], runs: [{from, to, ok}], failures: [{at, text}]}`. */
export function timeline(list, marks, from, to, now) {
  const x = (t) => ((t - from) / (to - from)) * COLUMNS;
  const svg = el('svg', {
    class: 'timeline', viewBox: `0 0 ${COLUMNS} 48`, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': 'state over time, with beats, runs and failures',
  });
  const w = (to - from) / COLUMNS;
  for (const r of runsOf(columns(list, from, to))) {
    const t0 = from + r.start * w, t1 = from + r.end * w;
    svg.append(el('rect', { class: 'span ' + r.state, x: r.start, y: 0, width: r.end - r.start, height: 22 },
      title(`${WORD[r.state]} ${fmt.clock(t0, now)} – ${fmt.clock(Math.min(t1, now), now)}`)));
  }
  // Beats: one tick per column at most (a busy service beats thousands of times).
  const seen = new Set();
  for (const b of marks.beats || []) {
    if (b < from || b > to) continue;
    const c = Math.round(x(b));
    if (seen.has(c)) continue;
    seen.add(c);
    svg.append(el('line', { class: 'beat', x1: c, x2: c, y1: 27, y2: 35, 'vector-effect': 'non-scaling-stroke' }));
  }
  for (const r of marks.runs || []) {
    if (r.to < from || r.from > to) continue;
    const a = x(Math.max(r.from, from)), b = x(Math.min(r.to, to));
    svg.append(el('line', {
      class: 'run ' + (r.ok === true ? 'ok' : r.ok === false ? 'error' : 'open'),
      x1: a, x2: b, y1: 31, y2: 31, 'vector-effect': 'non-scaling-stroke',
    }, title(r.text || '')));
  }
  for (const f of marks.failures || []) {
    if (f.at < from || f.at > to) continue;
    const c = x(f.at);
    svg.append(el('line', { class: 'failure', x1: c, x2: c, y1: 38, y2: 48, 'vector-effect': 'non-scaling-stroke' },
      title(f.text || 'failure')));
  }
  return svg;
}

/** The bars of the last runs' durations, oldest left; the median as a
 * dashed line. `runs` = `[{duration, ok, text}]`. */
export function durations(runs, median) {
  const max = Math.max(1, ...runs.map((r) => r.duration));
  const n = Math.max(runs.length, 10);
  const svg = el('svg', {
    class: 'durations', viewBox: `0 0 ${n * 10} 100`, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': 'duration of the last runs',
  });
  runs.forEach((r, i) => {
    const hgt = Math.max(1.5, (r.duration / max) * 96);
    svg.append(el('rect', { class: 'bar ' + (r.ok ? 'ok' : 'error'), x: i * 10 + 1.5, y: 100 - hgt, width: 7, height: hgt },
      title(r.text)));
  });
  if (median != null) {
    const y = 100 - (median / max) * 96;
    svg.append(el('line', { class: 'median', x1: 0, x2: n * 10, y1: y, y2: y, 'vector-effect': 'non-scaling-stroke' }));
  }
  return svg;
}

const DAY = 24 * 3600 * 1000;

/** A view's daily uptime over the last `days` days (oldest left): one bar
 * a day, green when never in ERROR, amber at 99 % or more, red below,
 * grey where the history does not reach; `current` as for `spans`.
 * Returns the SVG. */
export function uptimeStrip(hist, now, days = 30, current = undefined) {
  const start = new Date(now); start.setHours(0, 0, 0, 0);
  const from = start.getTime() - (days - 1) * DAY;
  const list = spans(hist, from, now, current);
  const svg = el('svg', {
    class: 'uptime', viewBox: `0 0 ${days * 10} 30`, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': `uptime of each of the last ${days} days`,
  });
  let i = 0;
  for (let d = from; i < days; d += DAY, i++) {
    const end = Math.min(d + DAY, now);
    let known = 0, bad = 0;
    for (const s of list) {
      const a = Math.max(s.from, d), b = Math.min(s.to, end);
      if (b <= a || s.state === 'none') continue;
      known += b - a;
      if (s.state === 'error') bad += b - a;
    }
    const up = known ? 1 - bad / known : null;
    const cls = up == null ? 'none' : up >= 1 ? 'ok' : up >= 0.99 ? 'warn' : 'error';
    const day = new Date(d).toLocaleDateString([], { day: 'numeric', month: 'short' });
    svg.append(el('rect', { class: 'day ' + cls, x: i * 10 + 1, y: 0, width: 8, height: 30 },
      title(up == null ? `${day}: no history` : `${day}: ${percent(up)} up`)));
  }
  return svg;
}

/** "99.93 %", "100 %". */
export function percent(f) {
  if (f == null) return '–';
  if (f >= 1) return '100 %';
  return `${(Math.floor(f * 10000) / 100).toFixed(2)} %`;
}
