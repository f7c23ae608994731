/**
 * docker's prune filters (`--filter until=…`, `label=…`, `label!=…`) for
 * `container prune` and `system prune`:
 *   until=TS     only objects created before TS: a Unix time (1700000000[.5]), an RFC 3339
 *                date or date-time (2024-05-01, 2024-05-01T10:00:00Z), or a Go duration
 *                before now (10m, 1h30m, 1.5h)
 *   label=K      objects with label K; label=K=V with K set to V
 *   label!=K[=V] objects without it
 * Several label filters must all hold; several until values are refused, as docker does.
 * A bad filter is a one-line error before anything is removed.
 */
import { usageError } from '../util/errors.js';

export interface PruneFilter {
  /** Created before this (ms since the epoch). */
  until?: number;
  labels: { key: string; value?: string; negate: boolean }[];
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds; undefined when it is not one. */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|ms|s|m|h))+$/.exec(s);
  if (!m) return s === '0' ? 0 : undefined;
  let total = 0;
  for (const part of s.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/g)) total += Number(part[1]) * GO_UNITS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

/** docker's GetTimestamp: the time an until= value names (ms since the epoch). */
export function parseUntil(value: string, now = Date.now()): number {
  const d = parseGoDuration(value);
  if (d !== undefined) return now - d;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value)) {
    // a date or date-time without a zone is local time, as docker's
    const t = Date.parse(value.length === 10 ? `${value}T00:00:00` : value.replace(' ', 'T'));
    if (!Number.isNaN(t)) return t;
  }
  throw usageError(`failed to parse value as time or duration: ${JSON.stringify(value)}`, 'use a duration (10m, 1h30m), a Unix time or an RFC 3339 date');
}

export function parsePruneFilters(filters: string[], now = Date.now()): PruneFilter {
  const out: PruneFilter = { labels: [] };
  for (const f of filters) {
    const neg = /^label!=/.test(f);
    const eq = f.indexOf('=');
    if (eq <= 0) throw usageError(`bad format of filter (expected name=value): ${JSON.stringify(f)}`);
    const key = neg ? 'label' : f.slice(0, eq);
    const value = neg ? f.slice('label!='.length) : f.slice(eq + 1);
    if (key === 'until') {
      if (out.until !== undefined) throw usageError('more than one until filter specified');
      out.until = parseUntil(value, now);
    } else if (key === 'label') {
      if (!value) throw usageError(`bad format of filter (expected name=value): ${JSON.stringify(f)}`);
      const i = value.indexOf('=');
      out.labels.push(i < 0 ? { key: value, negate: neg } : { key: value.slice(0, i), value: value.slice(i + 1), negate: neg });
    } else {
      throw usageError(`invalid filter '${key}'`, 'prune takes until=, label= and label!=');
    }
  }
  return out;
}

/** Does an object created at `created` with `labels` pass the filter (may be pruned)? */
export function pruneMatches(f: PruneFilter, created: string | undefined, labels: Record<string, string> | undefined): boolean {
  if (f.until !== undefined) {
    const t = created ? Date.parse(created) : NaN;
    if (Number.isNaN(t) || t >= f.until) return false;
  }
  for (const l of f.labels) {
    const has = labels !== undefined && Object.hasOwn(labels, l.key) && (l.value === undefined || labels[l.key] === l.value);
    if (has === l.negate) return false;
  }
  return true;
}
