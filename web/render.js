// Builds the page from the store: header counts, views, the services table,
// a view's page and the first-run page. Pure DOM building; names go in as
// text, never as markup.

import * as fmt from './format.js';

/** `h('a.cls', {href: '#'}, child, ...)`: an element with attributes and children. */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'checked' || k === 'disabled' || k === 'value') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const ICON_PATHS = {
  ok: 'M6.5 12.5l3.5 3.5 7.5-8',
  error: 'M7 7l10 10M17 7L7 17',
  muted: 'M9 7v10M15 7v10',
  new: 'M12 12h.01',
};

/** A round state badge with an icon (colour and shape both tell the state). */
export function icon(state) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${state}`);
  svg.setAttribute('aria-hidden', 'true');
  const circle = document.createElementNS(ns, 'circle');
  circle.setAttribute('cx', '12'); circle.setAttribute('cy', '12'); circle.setAttribute('r', '11');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICON_PATHS[state] || ICON_PATHS.new);
  svg.append(circle, path);
  return svg;
}

const badge = (state) => h('span.state.' + state, { title: state }, icon(state), h('span.label', {}, state));

/** Errors first, then by name. */
export function sortServices(list) {
  return list.sort((a, b) =>
    (a.state === 'error' ? 0 : 1) - (b.state === 'error' ? 0 : 1) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function counts(services) {
  const c = { ok: 0, error: 0, muted: 0 };
  for (const s of services) {
    if (s.state === 'error') c.error++;
    else if (s.state === 'muted') c.muted++;
    else c.ok++;
  }
  return c;
}

export function header(c, el) {
  el.replaceChildren(
    h('span.count.ok', { 'data-count': 'ok', title: 'services OK' }, icon('ok'), ` ${c.ok} ok`),
    h('span.count.error', { 'data-count': 'error', title: 'services in error' }, icon('error'), ` ${c.error} error`),
    h('span.count.muted', { 'data-count': 'muted', title: 'services muted' }, icon('muted'), ` ${c.muted} muted`),
  );
}

/** "incident #4", or "no incidents" for a view that never failed. */
const incidentText = (n) => (n > 0 ? `incident #${n}` : 'no incidents');

/** Names of each view's members in ERROR, from the services the page
 * holds. A view's record is sent again only when its own state changes, so
 * its `failed_services` goes stale when a member is muted, recovers or
 * fails while the view stays in ERROR; the members are always current. */
export function failing(services) {
  const out = new Map();
  for (const s of services) {
    if (s.state !== 'error') continue;
    for (const v of s.views || []) {
      if (!out.has(v)) out.set(v, []);
      out.get(v).push(s.name);
    }
  }
  for (const names of out.values()) names.sort();
  return out;
}

/** The alert policy's word on a view (pending, snoozed, in maintenance,
 * suppressed), one small badge each; null when it has none. */
export function policyBadges(v, now) {
  const lines = fmt.viewPolicy(v, now);
  if (!lines.length) return null;
  return h('span.policy', {}, lines.map((l) => h('span.pol.' + l.kind, { 'data-policy': l.kind, title: l.title }, l.text)));
}

function viewCard(v, failed, now) {
  return h('li.view.' + v.state, { 'data-view': v.name, 'data-state': v.state },
    h('a', { href: '#/views/' + encodeURIComponent(v.name) },
      badge(v.state),
      h('span.name', {}, v.name),
      h('span.incident', { title: 'incident number' }, incidentText(v.incident_number)),
      failed.length ? h('span.failed', { 'data-failing': failed.length }, `${failed.length} failing`) : null,
      policyBadges(v, now)));
}

/** The view cards; `failed` is `failing(services)`. */
export function viewList(views, failed, now) {
  if (!views.length) return null;
  return h('section.views', {}, h('h2', {}, 'Views'),
    h('ul.viewlist', {}, views.map((v) => viewCard(v, failed.get(v.name) || [], now))));
}

/** The length of the next mute: a select of `fmt.MUTE_CHOICES`. */
export function muteFor(value, onchange, label) {
  return h('select.mutefor', { 'aria-label': label, onchange: (e) => onchange(e.target.value) },
    fmt.MUTE_CHOICES.map(([v, text]) => {
      const o = h('option', { value: v }, text);
      o.selected = v === value;
      return o;
    }));
}

/** Rows drawn at most; the filter finds the rest (keeps big setups fast). */
export const MAX_ROWS = 1000;

/** The services table; `ui` has `now`, `selected`, `editing` and callbacks. */
export function serviceTable(list, ui) {
  const all = list.length > 0 && list.every((s) => ui.selected.has(s.name));
  const rows = list.slice(0, MAX_ROWS).map((s) => {
    const editing = ui.editing === s.name;
    const timeoutCell = editing
      ? h('td.timeout.editing', {},
        h('input', {
          type: 'text', value: ui.draft, 'aria-label': `timeout of ${s.name}`,
          placeholder: '5m, 2h, auto, none', size: 10,
          onkeydown: (e) => ui.onEditKey(e, s.name), onblur: () => ui.onEditCancel(),
        }))
      : h('td.timeout' + (s.schedule ? '.schedule' : ''), {
        title: fmt.timeoutTitle(s),
        ondblclick: () => ui.onEdit(s),
      }, fmt.timeoutShown(s));
    const why = fmt.reason(s);
    return h('tr.service.' + s.state, { 'data-service': s.name, 'data-state': s.state },
      h('td.pick', {}, h('input', {
        type: 'checkbox', 'aria-label': `select ${s.name}`, checked: ui.selected.has(s.name),
        onchange: (e) => ui.onSelect(s.name, e.target.checked),
      })),
      h('td.statecell', {}, badge(s.state), why ? h('span.reason', { 'data-reason': s.reason }, why) : null,
        fmt.mutedUntil(s, ui.now) ? h('span.until', { title: fmt.exact(s.muted_until) }, fmt.mutedUntil(s, ui.now)) : null),
      h('td.name', {}, h('a', { href: '#/services/' + encodeURIComponent(s.name), title: 'history, runs and output' }, s.name)),
      timeoutCell,
      h('td.lastbeat', { title: fmt.exact(s.last_beat) }, fmt.ago(s.last_beat, ui.now)),
      h('td.deadline', { title: fmt.deadlineTitle(s) }, fmt.deadline(s, ui.now)),
      h('td.lastrun' + (s.running_since != null ? '.running' : ''), {}, fmt.lastRun(s, ui.now)),
      h('td.interval', {},
        s.analysis ? fmt.interval(s.analysis) : '',
        s.analysis && s.analysis.unstable
          ? h('span.unstable', { title: 'the intervals vary a lot (90th percentile ≥ 5 × the 10th)' }, 'unstable')
          : null));
  });
  return h('table.services', {},
    h('thead', {}, h('tr', {},
      h('th.pick', {}, h('input', {
        type: 'checkbox', 'aria-label': 'select all', checked: all,
        onchange: (e) => ui.onSelectAll(list, e.target.checked),
      })),
      h('th', {}, 'State'), h('th', {}, 'Service'), h('th', {}, 'Timeout'),
      h('th', {}, 'Last beat'), h('th', { title: 'when it goes to error if no beat comes' }, 'Next deadline'),
      h('th', { title: 'the run in progress, or how the last one ended' }, 'Last run'),
      h('th', {}, 'Interval'))),
    h('tbody', {}, rows.length ? rows : h('tr.none', {}, h('td', { colspan: 8 }, 'No service matches.')),
      list.length > MAX_ROWS
        ? h('tr.more', {}, h('td', { colspan: 8 }, `… and ${list.length - MAX_ROWS} more; use the filter to find them.`))
        : null));
}

export function toolbar(ui) {
  const none = ui.selected.size === 0;
  return h('div.toolbar', {},
    h('input.filter', {
      type: 'search', placeholder: 'Filter services…', 'aria-label': 'filter services',
      value: ui.filter, oninput: (e) => ui.onFilter(e.target.value),
    }),
    h('span.selection', {}, none ? '' : `${ui.selected.size} selected`),
    h('button', { type: 'button', 'data-action': 'mute', disabled: none, onclick: () => ui.onAction('mute') }, 'Mute'),
    // "Mute: " shows on phones, where the choice sits on a line of its own.
    h('label.mutechoice', {}, h('span.mutelabel', {}, 'Mute:'), muteFor(ui.muteFor, ui.onMuteFor, 'mute the selected services for')),
    h('button', { type: 'button', 'data-action': 'unmute', disabled: none, onclick: () => ui.onAction('unmute') }, 'Unmute'),
    h('button.danger', { type: 'button', 'data-action': 'delete', disabled: none, onclick: () => ui.onAction('delete') }, 'Delete'));
}

export function firstRun(curl) {
  return h('section.firstrun', {},
    h('h1', {}, 'No services yet'),
    h('p', {}, 'A service appears the first time it sends a beat. Create one from a shell:'),
    h('pre', {}, h('code', {}, curl)),
    h('p', {}, 'Every further beat resets its timer; if none comes within the timeout (5 minutes here), it turns red. ',
      'Use "auto" as the timeout to let Lovebeat learn the interval.'));
}

/** A view's page head; `failed` are the names of its members in ERROR;
 * `ui` has `now`, `viewMuteFor` and the view's mute callbacks. */
export function viewHeader(v, memberCount, failed, ui) {
  if (!v) return h('section.viewhead', {}, h('a.back', { href: '#/' }, '← all services'), h('h1', {}, 'No such view'));
  const muted = v.muted && !(v.muted_until != null && v.muted_until <= ui.now);
  return h('section.viewhead', { 'data-view-page': v.name },
    h('a.back', { href: '#/' }, '← all services'),
    h('h1', {}, badge(v.state), ' ', h('span.name', {}, v.name)),
    h('p.meta', {},
      `${incidentText(v.incident_number)} · ${memberCount} member${memberCount === 1 ? '' : 's'}`,
      failed.length ? ` · failing: ${failed.join(', ')}` : ''),
    policyBadges(v, ui.now),
    h('div.viewmute', {},
      h('span.what', {}, 'Alerts of this view:'),
      h('button', { type: 'button', 'data-action': 'mute-view', onclick: () => ui.onMuteView(v.name) }, 'Mute'),
      muteFor(ui.viewMuteFor, ui.onViewMuteFor, 'mute this view for'),
      h('button', { type: 'button', 'data-action': 'unmute-view', disabled: !muted, onclick: () => ui.onUnmuteView(v.name) }, 'Unmute')));
}
