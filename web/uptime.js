// A view's uptime strip (SPEC 18): one bar a day for the last 30 days and
// the API's uptime over 24 h, 7 d and 30 d, read from
// /api/views/<name>/history when the view's page opens, after each change
// of the view, and every minute.

import * as api from './api.js';
import * as charts from './charts.js';
import { h } from './render.js';

const DAY = 24 * 3600 * 1000;
export const DAYS = 30;
const shown = { name: null, hist: null, error: '' };
let seq = 0;

/** Reads the history of view `name`, then calls `done` to redraw. */
export async function load(name, done) {
  if (shown.name !== name) Object.assign(shown, { name, hist: null, error: '' });
  const mine = ++seq;
  try {
    const hist = await api.viewHistory(name, Date.now() - DAYS * DAY);
    if (mine !== seq) return;
    Object.assign(shown, { hist, error: '' });
  } catch (err) {
    if (mine !== seq) return;
    shown.error = err.message;
  }
  done();
}

/** The strip for view `name` (`current`: its state now), or null before
 * its history is read. */
export function section(name, now, current) {
  if (shown.name !== name) return null;
  if (!shown.hist) {
    return shown.error ? h('section.uptimestrip', {}, h('p.note', {}, `Uptime not available: ${shown.error}`)) : null;
  }
  const u = shown.hist.uptime || {};
  return h('section.uptimestrip', { 'data-uptime-view': name },
    h('div.head', {}, h('h2', {}, `Uptime, last ${DAYS} days`),
      h('span.uptimes', {}, Object.entries({ '1d': '24 h', '7d': '7 d', '30d': '30 d' })
        .map(([k, label]) => h('span', { 'data-uptime': k }, `${label} ${charts.percent(u[k])}`)))),
    charts.uptimeStrip(shown.hist, now, DAYS, current),
    h('div.axis', {}, h('span', {}, `${DAYS} days ago`), h('span', {}, 'today')));
}
