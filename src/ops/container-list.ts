/**
 * `ps`: container records, refreshed against the kernel, filtered docker-style.
 * Formatting of columns lives in the CLI; this returns the rows' data.
 */
import type { Ctx } from '../context.js';
import { usageError } from '../util/errors.js';
import { listContainers, type Container } from '../containers/record.js';
import { isRunning, refresh } from '../containers/status.js';
import { dockerStatus, isRestarting } from '../containers/restart-policy.js';
import { healthJson } from '../containers/health.js';

export interface ListOptions {
  all?: boolean;
  /** Last N created containers (any status). */
  last?: number;
  /** docker filters: status=, name=, id=, health= (same key ORs, different keys AND). */
  filters?: string[];
}

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

/** docker's health filter value: the Health.Status inspect shows, "none" without a healthcheck. */
function healthState(c: Container): string {
  return (healthJson(c, c.state.status === 'running' || c.state.status === 'paused')?.Status as string | undefined) ?? 'none';
}

function parseFilters(filters: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw usageError(`bad filter ${JSON.stringify(f)}`, 'use KEY=VALUE, e.g. status=exited');
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (!['status', 'name', 'id', 'health'].includes(key)) throw usageError(`unsupported filter ${JSON.stringify(key)}`, 'supported: status, name, id, health');
    if (key === 'health' && !HEALTH.includes(value)) throw usageError(`Unrecognised filter value for health: ${value}`, `use one of ${HEALTH.join(', ')}`);
    if (key === 'status' && !STATUSES.includes(value)) throw usageError(`invalid filter status=${value}`, `use one of ${STATUSES.join(', ')}`);
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

function matches(c: Container, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some((v) => {
      if (key === 'status') return dockerStatus(c) === v;
      if (key === 'health') return healthState(c) === v;
      if (key === 'id') return c.config.id.startsWith(v);
      // docker matches names as a regular expression (unanchored); plain text is a substring
      try {
        return new RegExp(v).test(c.config.name);
      } catch {
        return c.config.name.includes(v);
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** Containers newest first. */
export function listForPs(ctx: Ctx, opts: ListOptions = {}): Container[] {
  const filters = parseFilters(opts.filters ?? []);
  let all = listContainers(ctx).map((c) => refresh(ctx, c));
  if (opts.last !== undefined && opts.last >= 0) all = all.slice(0, opts.last);
  const showAll = opts.all || opts.last !== undefined || filters.has('status');
  // docker counts a container waiting to restart as running
  return all.filter((c) => (showAll || isRunning(c) || isRestarting(c)) && matches(c, filters));
}
