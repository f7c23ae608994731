/**
 * The pure parts of restart policies and healthchecks, table-driven: docker's
 * policy parser and its messages, moby's RestartManager decisions (back-off
 * doubling, its cap and reset, on-failure's count, manual stops), the
 * healthcheck merge with the image's and docker's probe-result rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decideRestart, parseRestartPolicy, type RestartPolicy } from '../../src/containers/restart-policy.js';
import { mergeHealthcheck, readHealth, recordProbe } from '../../src/containers/health.js';
import type { Container } from '../../src/containers/record.js';

test('parseRestartPolicy: docker names, counts and messages', () => {
  assert.deepEqual(parseRestartPolicy('no'), { name: 'no', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy(''), { name: 'no', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:5'), { name: 'on-failure', maximumRetryCount: 5 });
  assert.deepEqual(parseRestartPolicy('on-failure:'), { name: 'on-failure', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('always:0'), { name: 'always', maximumRetryCount: 0 });
  const bad: [string, RegExp][] = [
    ['on-failure:x', /maximum retry count must be an integer/],
    ['on-failure:1.5', /maximum retry count must be an integer/],
    ['on-failure:-2', /cannot be negative/],
    ['always:2', /can only be used with 'on-failure'$/],
    ['no:-1', /can only be used with 'on-failure' and cannot be negative/],
    [':1', /no policy provided before colon/],
    ['Always', /unknown policy 'Always'/],
  ];
  for (const [spec, msg] of bad) assert.throws(() => parseRestartPolicy(spec), (e: Error & { code?: string }) => msg.test(e.message) && e.code === 'USAGE', spec);
});

const P = (s: string): RestartPolicy => parseRestartPolicy(s);
const facts = { exitCode: 1, ranMs: 50, restartCount: 0, lastDelayMs: 0 };

test('decideRestart: moby RestartManager back-off: 100 ms doubling, at most 1 min, reset after 10 s of running', () => {
  let delay = 0;
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) {
    const d = decideRestart(P('always'), { ...facts, lastDelayMs: delay });
    assert.equal(d.restart, true);
    delay = d.delayMs;
    seen.push(delay);
  }
  assert.deepEqual(seen, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
  assert.equal(decideRestart(P('always'), { ...facts, lastDelayMs: 60000, ranMs: 10_000 }).delayMs, 100);
  assert.equal(decideRestart(P('always'), { ...facts, lastDelayMs: 800, ranMs: 9_999 }).delayMs, 1600);
});

test('decideRestart: which exits restart under each policy', () => {
  const cases: [string, Partial<typeof facts> & { manualStop?: 'cancel' | 'signal' }, boolean][] = [
    ['no', {}, false],
    ['always', { exitCode: 0 }, true],
    ['always', { manualStop: 'signal' }, true],
    ['always', { manualStop: 'cancel' }, false],
    ['unless-stopped', { exitCode: 0 }, true],
    ['unless-stopped', { manualStop: 'signal' }, false],
    ['unless-stopped', { manualStop: 'cancel' }, false],
    ['on-failure', { exitCode: 0 }, false],
    ['on-failure', { exitCode: 137 }, true],
    ['on-failure', { exitCode: 1, restartCount: 99 }, true], // no limit
    ['on-failure:3', { exitCode: 1, restartCount: 2 }, true],
    ['on-failure:3', { exitCode: 1, restartCount: 3 }, false],
    ['on-failure:3', { exitCode: 1, manualStop: 'signal' }, true],
    ['on-failure:3', { exitCode: 1, manualStop: 'cancel' }, false],
  ];
  for (const [policy, f, want] of cases) assert.equal(decideRestart(P(policy), { ...facts, ...f }).restart, want, `${policy} ${JSON.stringify(f)}`);
});

const S = 1e9;

test("mergeHealthcheck: docker's CLI checks, then the merge with the image's HEALTHCHECK", () => {
  const image = { Test: ['CMD', 'true'], Interval: 5 * S, Timeout: 2 * S, Retries: 4 };
  assert.equal(mergeHealthcheck({}, undefined), undefined);
  assert.deepEqual(mergeHealthcheck({}, image), image);
  assert.deepEqual(mergeHealthcheck({ none: true }, image), { Test: ['NONE'] });
  assert.deepEqual(mergeHealthcheck({ cmd: 'exit 1' }, image), { Test: ['CMD-SHELL', 'exit 1'], Interval: 5 * S, Timeout: 2 * S, StartPeriod: 0, StartInterval: 0, Retries: 4 });
  assert.deepEqual(mergeHealthcheck({ interval: S }, image), { Test: ['CMD', 'true'], Interval: S, Timeout: 2 * S, StartPeriod: 0, StartInterval: 0, Retries: 4 });
  assert.deepEqual(mergeHealthcheck({ cmd: 'x', retries: 1 }, undefined), { Test: ['CMD-SHELL', 'x'], Interval: 0, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 1 });
  assert.throws(() => mergeHealthcheck({ none: true, cmd: 'x' }, undefined), /--no-healthcheck conflicts with --health-\* options/);
  assert.throws(() => mergeHealthcheck({ cmd: 'x', timeout: -1 }, undefined), /--health-timeout cannot be negative/);
  assert.throws(() => mergeHealthcheck({ cmd: 'x', startPeriod: 1000 }, undefined), /StartPeriod in Healthcheck cannot be less than 1ms/);
});

function fakeContainer(hc: object): Container {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-health-'));
  return { dir, config: { healthcheck: hc } as Container['config'], state: { status: 'running', startedAt: '2026-01-01T00:00:00.000Z' } };
}

const entry = (atMs: number, exitCode: number) => ({
  Start: new Date(Date.parse('2026-01-01T00:00:00.000Z') + atMs).toISOString(),
  End: new Date(Date.parse('2026-01-01T00:00:00.000Z') + atMs + 10).toISOString(),
  ExitCode: exitCode,
  Output: '',
});

test("recordProbe: docker's handleProbeResult: start period, retries, a pass resets, 5 log entries, a new run starts over", () => {
  const c = fakeContainer({ Test: ['CMD', 'x'], Retries: 2, StartPeriod: 3 * S });
  try {
    assert.equal(readHealth(c).Status, 'starting');
    assert.deepEqual([recordProbe(c, entry(1000, 1)).FailingStreak, readHealth(c).Status], [0, 'starting']); // in the start period
    assert.deepEqual([recordProbe(c, entry(4000, 1)).FailingStreak, readHealth(c).Status], [1, 'starting']);
    assert.deepEqual([recordProbe(c, entry(5000, 1)).FailingStreak, readHealth(c).Status], [2, 'unhealthy']);
    assert.deepEqual([recordProbe(c, entry(6000, 0)).FailingStreak, readHealth(c).Status], [0, 'healthy']);
    // healthy: failures count again from 0
    for (let i = 0; i < 4; i++) recordProbe(c, entry(7000 + i * 1000, 1));
    const h = readHealth(c);
    assert.equal(h.Status, 'unhealthy');
    assert.equal(h.FailingStreak, 4);
    assert.equal(h.Log.length, 5);
    assert.equal(h.Log[0]!.ExitCode, 0);
    // the next start: starting again, streak 0, the log kept
    c.state.startedAt = '2026-01-01T01:00:00.000Z';
    const next = readHealth(c);
    assert.deepEqual([next.Status, next.FailingStreak, next.Log.length], ['starting', 0, 5]);
  } finally {
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});
