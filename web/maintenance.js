// The maintenance page (#/maintenance, SPEC 15): the windows of the
// configuration and of the API, a delete button for the API's, and a form
// that adds one. The form is built once and kept across redraws, so what is
// typed in it survives the live updates; only the list is redrawn.

import * as fmt from './format.js';
import { h } from './render.js';

/** "0 3 * * * (UTC) for 1 h", "30 Nov 14:00 – 16:00". */
export function when(w, now) {
  if (w.schedule) return `${w.schedule} (${w.tz || 'UTC'}) for ${fmt.duration(w.duration || 0)}`;
  const from = Date.parse(w.from), until = Date.parse(w.until);
  if (Number.isNaN(from) || Number.isNaN(until)) return [w.from, w.until].filter(Boolean).join(' – ');
  // The end without its date when it is the same day as the start.
  const sameDay = new Date(from).toDateString() === new Date(until).toDateString();
  return `${fmt.clock(from, now)} – ${sameDay ? fmt.clock(until, until) : fmt.clock(until, now)}`;
}

/** "open until 14:00", "next 30 Nov 03:00", "over". */
export function status(w, now) {
  if (w.open_until != null) return { open: true, text: `open until ${fmt.clock(w.open_until, now)}` };
  if (w.next_start != null) return { open: false, text: `next ${fmt.clock(w.next_start, now)}` };
  return { open: false, text: 'over' };
}

/** The list of windows; `state` has `windows` (null until loaded),
 * `now` and `onDelete(id)`. */
export function list(state) {
  const ws = state.windows;
  let body;
  if (ws === null) body = h('p.loading', {}, state.error || 'Loading…');
  else if (!ws.length) body = h('p.none', {}, 'No maintenance window. Add one below, or with [[maintenance]] in the configuration.');
  else {
    body = h('table.windows', {},
      h('thead', {}, h('tr', {},
        h('th', {}, 'Views'), h('th', {}, 'When'), h('th', {}, 'Now'), h('th', {}, 'Comment'), h('th', {}, 'ID'), h('th', {}, ''))),
      h('tbody', {}, ws.map((w) => {
        const st = status(w, state.now);
        return h('tr.window' + (st.open ? '.open' : ''), { 'data-window': w.id, 'data-origin': w.origin },
          h('td.views', {}, (w.views || []).join(', ')),
          h('td.when', {}, when(w, state.now)),
          h('td.status', {}, st.text),
          h('td.comment', {}, w.comment || ''),
          h('td.id', {}, w.id),
          h('td.origin', {}, w.origin === 'api'
            ? h('button.danger', { type: 'button', 'data-action': 'delete-window', onclick: () => state.onDelete(w.id) }, 'Delete')
            : h('span.config', { title: 'edit [[maintenance]] in the configuration to change it' }, 'from the configuration')));
      })));
  }
  return h('section.windowlist', {}, body);
}

let form = null;

/** Splits "db.*, web  app" into patterns. */
const patterns = (text) => text.split(/[\s,]+/).filter(Boolean);

/** The add form (one element, kept); `onAdd(spec)` returns a promise of
 * true when the window was made (the form is then cleared); `onError(text)`
 * tells what is missing. */
export function addForm(onAdd, onError) {
  if (form) return form;
  const views = h('input', { type: 'text', name: 'views', required: true, placeholder: 'db.*, web', spellcheck: 'false', 'aria-label': 'views' });
  const kind = (value, checked) => h('input', { type: 'radio', name: 'kind', value, checked });
  const forNow = kind('now', true), fromTo = kind('range', false);
  const duration = h('input', { type: 'text', name: 'duration', value: '2h', size: 6, 'aria-label': 'duration from now' });
  const from = h('input', { type: 'datetime-local', name: 'from', 'aria-label': 'from' });
  const until = h('input', { type: 'datetime-local', name: 'until', 'aria-label': 'until' });
  const comment = h('input', { type: 'text', name: 'comment', placeholder: 'why (optional)', 'aria-label': 'comment' });
  const button = h('button', { type: 'submit' }, 'Add window');
  const pick = (radio) => () => { radio.checked = true; };
  duration.addEventListener('focus', pick(forNow));
  from.addEventListener('focus', pick(fromTo));
  until.addEventListener('focus', pick(fromTo));
  form = h('form.addwindow', {},
    h('h2', {}, 'Add a window'),
    h('label.field', {}, h('span', {}, 'Views (names or patterns)'), views),
    h('div.field', {},
      h('label', {}, forNow, ' for ', duration, ' from now'),
      h('label', {}, fromTo, ' from ', from, ' until ', until)),
    h('label.field', {}, h('span', {}, 'Comment'), comment),
    h('div.buttons', {}, button,
      h('span.hint', {}, 'During a window the views send no alerts; one still in error when it ends alerts then.')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const spec = { views: patterns(views.value) };
    if (forNow.checked) spec.duration = duration.value.trim();
    else {
      // datetime-local is the viewer's local time; the API wants RFC 3339.
      const a = new Date(from.value), b = new Date(until.value);
      if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime())) {
        onError('Give both "from" and "until", or a duration from now.');
        return;
      }
      spec.from = a.toISOString();
      spec.until = b.toISOString();
    }
    if (comment.value.trim()) spec.comment = comment.value.trim();
    button.disabled = true;
    try {
      if (await onAdd(spec)) for (const input of [views, from, until, comment]) input.value = '';
    } finally { button.disabled = false; }
  });
  return form;
}

/** True once the page is on screen (then only `list` needs redrawing). */
export const shown = (main) => form !== null && main.contains(form);

/** The whole page: head, list, form. */
export function page(state, onAdd, onError) {
  return [
    h('section.mainthead', {},
      h('a.back', { href: '#/' }, '← all services'),
      h('h1', {}, 'Maintenance windows')),
    list(state),
    addForm(onAdd, onError),
  ];
}
