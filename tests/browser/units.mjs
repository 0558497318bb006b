// The dashboard's pure functions in plain node (no browser): a schedule in
// words, the expectation of a service, and a history cut into spans and
// columns (web/words.js, web/charts.js). Run by tests/browser.rs. The web
// files are ES modules without a package.json of their own, so they are
// copied next to one that says so.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const web = new URL('../../web/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'lovebeat-web-'));
try {
  for (const f of readdirSync(web).filter((f) => f.endsWith('.js'))) copyFileSync(join(web, f), join(dir, f));
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
  const words = await import(join(dir, 'words.js'));
  const charts = await import(join(dir, 'charts.js'));

  for (const [expr, text] of [
    ['0 2 * * *', 'every day at 02:00'],
    ['30 3 * * 1-5', 'every weekday (Monday to Friday) at 03:30'],
    ['0 4 * * SAT,SUN', 'every Sunday and Saturday at 04:00'],
    ['5 4 * * 7', 'every Sunday at 04:05'],
    ['0 9,17 * * *', 'every day at 09:00 and 17:00'],
    ['*/15 * * * *', 'every 15 minutes'],
    ['* * * * *', 'every minute'],
    ['15 * * * *', 'every hour at minute 15'],
    ['0 */6 * * *', 'every 6 hours at minute 0'],
    ['0 0 1 * *', 'on day 1 of every month at 00:00'],
    ['0 0 1,15 * *', 'on day 1 and 15 of every month at 00:00'],
    ['0 0 1 1 *', 'every year on 1 Jan at 00:00'],
    ['@weekly', 'every Sunday at 00:00'],
    ['@daily', 'every day at 00:00'],
    ['@hourly', 'every hour at minute 0'],
    // Shapes without words: none, never a wrong sentence.
    ['0 0 * * 1#2', null],
    ['0-30/10 2 * * *', null],
    ['0 2 1 * 1', null],
    ['0 25 * * *', null],
    ['0 2 * *', null],
  ]) assert.equal(words.cronWords(expr), text, expr);

  const H = 3600e3;
  for (const [s, text] of [
    [{ schedule: '0 2 * * *', tz: 'Europe/Berlin', grace: H }, 'every day at 02:00, Europe/Berlin, 1 h grace'],
    [{ schedule: '0 0 * * 1#2', grace: 0 }, 'on the schedule "0 0 * * 1#2", UTC'],
    [{ timeout: 300e3 }, 'a beat at least every 5 min'],
    [{ timeout: -2, auto_model: 'adaptive', timeout_in_force: 180e3 }, 'adaptive (≈ 3 min): learned from its beats'],
    [{ timeout: -2, timeout_in_force: 0 }, 'auto: learning from its beats'],
    [{ timeout: -1 }, 'no timeout: never goes to error by itself'],
    [{ timeout: 0 }, 'timeout 0: always in error'],
    [{ timeout: 60e3, max_runtime: 2 * H, min_duration: 10e3 }, 'a beat at least every 1 min, runs at most 2 h, runs at least 10 s'],
  ]) assert.equal(words.expectation(s), text, JSON.stringify(s));

  // Spans: unknown before known_since, then the states in force.
  const hist = {
    state_at_since: 'new', known_since: 100,
    changes: [{ at: 100, from: 'new', to: 'ok' }, { at: 400, from: 'ok', to: 'error', reason: 'missed' }, { at: 700, from: 'error', to: 'ok' }],
  };
  assert.deepEqual(charts.spans(hist, 0, 1000).map((s) => [s.from, s.to, s.state]),
    [[0, 100, 'none'], [100, 400, 'ok'], [400, 700, 'error'], [700, 1000, 'ok']]);
  // A window that starts later takes the state in force at its start.
  assert.deepEqual(charts.spans(hist, 500, 1000).map((s) => [s.from, s.to, s.state]),
    [[500, 700, 'error'], [700, 1000, 'ok']]);
  assert.deepEqual(charts.spans({ state_at_since: 'new', known_since: null, changes: [] }, 0, 10).map((s) => s.state), ['none']);
  // A window from before the history: the reply says "new" at its start;
  // the first change's `from` (or, without any, the record's state) is
  // what was in force since known_since.
  const young = { since: 0, state_at_since: 'new', known_since: 500, changes: [{ at: 800, from: 'ok', to: 'error' }] };
  assert.deepEqual(charts.spans(young, 0, 1000).map((s) => [s.from, s.to, s.state]),
    [[0, 500, 'none'], [500, 800, 'ok'], [800, 1000, 'error']]);
  const quiet = { since: 0, state_at_since: 'new', known_since: 500, changes: [] };
  assert.deepEqual(charts.spans(quiet, 0, 1000, 'ok').map((s) => s.state), ['none', 'ok']);
  assert.deepEqual(charts.spans({ ...quiet, since: 600, state_at_since: 'error' }, 600, 1000, 'ok').map((s) => s.state), ['error']);
  // Changes left out of a long reply (its oldest): not known, not guessed.
  const cut = { ...hist, omitted: 3, changes: hist.changes.slice(1) };
  assert.deepEqual(charts.spans(cut, 0, 1000).map((s) => [s.from, s.to, s.state]),
    [[0, 400, 'none'], [400, 700, 'error'], [700, 1000, 'ok']]);
  // A column shows the worst state in force in it: a short ERROR is not lost.
  const blip = { state_at_since: 'ok', known_since: 0, changes: [{ at: 5001, from: 'ok', to: 'error' }, { at: 5002, from: 'error', to: 'ok' }] };
  const cols = charts.columns(charts.spans(blip, 0, 10_000), 0, 10_000, 10);
  assert.deepEqual(cols, ['ok', 'ok', 'ok', 'ok', 'ok', 'error', 'ok', 'ok', 'ok', 'ok']);
  // 10,000 changes: one column each at most, all of them counted.
  const many = { state_at_since: 'ok', known_since: 0, changes: [] };
  for (let i = 1; i <= 10_000; i++) many.changes.push({ at: i * 10, to: i % 2 ? 'error' : 'ok' });
  const all = charts.columns(charts.spans(many, 0, 100_010), 0, 100_010, charts.COLUMNS);
  assert.equal(all.length, charts.COLUMNS);
  assert.ok(all.every((c) => c === 'error'), 'every column saw an ERROR');
  assert.equal(charts.percent(1), '100 %');
  assert.equal(charts.percent(0.99999), '99.99 %');
  assert.equal(charts.percent(null), '–');
  console.log('ok: all unit checks passed');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
