// Text for times, durations and timeouts, as a person reads them.

const S = 1000, MIN = 60 * S, H = 60 * MIN, D = 24 * H;

/** "5 min", "2 h 30 min", "45 s", "3 d" (never "59 min 60 s"). */
export function duration(ms) {
  if (ms < MIN) return `${Math.round(ms / S)} s`;
  if (ms < H) return two(ms, MIN, 'min', S, 's');
  if (ms < D) return two(ms, H, 'h', MIN, 'min');
  return two(ms, D, 'd', H, 'h');
}

/** `ms` in whole `small` units, written as "<big> <bigName> <rest> <smallName>". */
function two(ms, big, bigName, small, smallName) {
  const n = Math.round(ms / small), per = big / small;
  const b = Math.floor(n / per), r = n % per;
  return r ? `${b} ${bigName} ${r} ${smallName}` : `${b} ${bigName}`;
}

/** The timeout of a service object (ms, -1 none, -2 auto; -2 with
 * auto_model "adaptive" is adaptive, SPEC 19). */
export function timeout(t, autoModel) {
  if (t === -1) return 'none';
  if (t === -2) return autoModel === 'adaptive' ? 'adaptive' : 'auto';
  if (t === 0) return '0 (always error)';
  return duration(t);
}

/** The timeout column: for auto and adaptive the learned value too,
 * "auto (≈ 1 min 2 s)", "adaptive (≈ 3 min)";
 * for a scheduled job its cron expression and zone. */
export function timeoutShown(s) {
  if (s.schedule) return `${s.schedule} (${s.tz || 'UTC'})`;
  const name = timeout(s.timeout, s.auto_model);
  if (s.timeout === -2 && s.timeout_in_force > 0) return `${name} (≈ ${duration(s.timeout_in_force)})`;
  return name;
}

/** The next-deadline column: "in 4 min", "due now", or why there is none. */
export function deadline(s, now) {
  if (s.next_deadline == null) {
    if (s.state === 'muted') return 'none (muted)';
    if (s.state === 'error') return s.timeout === 0 ? 'none (always error)' : 'none (in error)';
    if (s.timeout === -2) return 'none (learning)';
    return 'never';
  }
  const d = s.next_deadline - now;
  return d < S ? 'due now' : `in ${duration(d)}`;
}

/** Why a service is in error, in words (SPEC 14.2 reasons). */
export function reason(s) {
  if (s.state !== 'error' || !s.reason) return '';
  switch (s.reason) {
    case 'failed': return s.last_exit_code > 0 ? `failed (exit ${s.last_exit_code})` : 'failed';
    case 'too_long': return 'ran too long';
    case 'too_fast': return 'ran too fast';
    case 'missed': return s.schedule ? 'missed its run' : 'no beat in time';
    case 'always': return 'timeout 0';
    default: return s.reason;
  }
}

/** The last-run column: "running 5 min", "took 3 min · exit 0", or "". */
export function lastRun(s, now) {
  if (s.running_since != null) {
    const more = s.open_runs > 1 ? ` (${s.open_runs} runs)` : '';
    return `running ${duration(Math.max(0, now - s.running_since))}${more}`;
  }
  const parts = [];
  if (s.last_duration != null) parts.push(`took ${s.last_duration < S ? `${s.last_duration} ms` : duration(s.last_duration)}`);
  if (s.last_exit_code != null) parts.push(`exit ${s.last_exit_code}`);
  return parts.join(' · ');
}

/** The hover text of the timeout column. */
export function timeoutTitle(s) {
  const grace = s.grace > 0 ? `, grace ${duration(s.grace)}` : '';
  const limits = [
    s.max_runtime != null ? `max run ${duration(s.max_runtime)}` : '',
    s.min_duration != null ? `min run ${duration(s.min_duration)}` : '',
  ].filter(Boolean).join(', ');
  const extra = `${grace}${limits ? `, ${limits}` : ''}`;
  if (s.schedule) return `runs on the schedule "${s.schedule}" in ${s.tz || 'UTC'}${extra}; double-click to set a period instead`;
  return `double-click to edit ("5m", "2h", "auto", "adaptive", "none")${extra}`;
}

/** The hover text of the next-deadline column. */
export function deadlineTitle(s) {
  if (s.next_deadline != null && s.running_since != null) return `goes to error at ${exact(s.next_deadline)} unless the run ends`;
  if (s.next_deadline != null) return `goes to error at ${exact(s.next_deadline)} unless a beat comes`;
  if (s.state === 'muted') return 'muted: does not go to error';
  if (s.state === 'error') return 'in error until the next beat';
  if (s.timeout === -2) return `${timeout(-2, s.auto_model)}: the timeout is learned from the second beat on`;
  return 'no timeout: never goes to error';
}

/** What to put in the edit box: the shortest form the API accepts. */
export function timeoutInput(t, autoModel) {
  if (t === -1) return 'none';
  if (t === -2) return timeout(-2, autoModel);
  const s = Math.round(t / S);
  if (s && s % 86400 === 0) return `${s / 86400}d`;
  if (s && s % 3600 === 0) return `${s / 3600}h`;
  if (s && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** "3 min ago", "just now", "never". */
export function ago(when, now) {
  if (!(when > 0)) return 'never';
  const d = now - when;
  if (d < 5 * S) return 'just now';
  if (d < MIN) return `${Math.floor(d / S)} s ago`;
  if (d < H) return `${Math.floor(d / MIN)} min ago`;
  if (d < D) return `${Math.floor(d / H)} h ago`;
  const days = Math.floor(d / D);
  return days === 1 ? '1 day ago' : `${days} days ago`;
}

/** The exact local time, for hover titles. */
export function exact(when) {
  return when > 0 ? new Date(when).toLocaleString() : 'never';
}

/** The measured interval of the beat analysis: "every 58–62 s". */
export function interval(a) {
  if (!a) return '';
  const lo = duration(a.lower * S), hi = duration(a.upper * S);
  return lo === hi ? `every ${lo}` : `every ${lo} – ${hi}`;
}

/** A moment in the viewer's local time: "14:05" (or "14:05:09" with
 * `seconds`), with the date in front when it is not today ("30 Nov 14:05"). */
export function clock(when, now, seconds = false) {
  const d = new Date(when);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23' });
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return t;
  const year = d.getFullYear() === today.getFullYear() ? {} : { year: 'numeric' };
  return `${d.toLocaleDateString([], { day: 'numeric', month: 'short', ...year })} ${t}`;
}

/** What the alert policy says of a view now (SPEC 15), as short lines with
 * their kind: pending, muted, maintenance, suppressed. Moments already past
 * are left out (the record may be older than the page's clock). */
export function viewPolicy(v, now) {
  const out = [];
  if (!v) return out;
  if (v.pending_until != null && v.pending_until > now) {
    out.push({ kind: 'pending', text: `pending — alerts at ${clock(v.pending_until, now, true)}`, title: exact(v.pending_until) });
  }
  if (v.muted_until != null && v.muted_until > now) {
    out.push({ kind: 'muted', text: `snoozed until ${clock(v.muted_until, now)}`, title: `alerts muted until ${exact(v.muted_until)}` });
  } else if (v.muted && v.muted_until == null) {
    out.push({ kind: 'muted', text: 'muted', title: 'alerts muted until unmuted' });
  }
  if (v.maintenance_until != null && v.maintenance_until > now) {
    out.push({ kind: 'maintenance', text: `in maintenance until ${clock(v.maintenance_until, now)}`, title: `alerts held until ${exact(v.maintenance_until)}` });
  }
  if (v.suppressed_by && v.suppressed_by.length) {
    out.push({ kind: 'suppressed', text: `suppressed by ${v.suppressed_by.join(', ')}`, title: 'alerts held while the views it depends on are in error' });
  }
  return out;
}

/** A timed mute of a service: "muted until 14:05", or "". */
export function mutedUntil(s, now) {
  return s.state === 'muted' && s.muted_until != null && s.muted_until > now ? `muted until ${clock(s.muted_until, now)}` : '';
}

/** The choices of a mute's length: the `for` of the API ("" until unmuted). */
export const MUTE_CHOICES = [
  ['', 'until unmuted'], ['15m', 'for 15 min'], ['1h', 'for 1 h'], ['4h', 'for 4 h'], ['1d', 'for 1 day'],
];
