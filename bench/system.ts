/**
 * `ps` and `stats` at scale, against the issue's targets:
 *   ps     `ps -a --format '{{.Names}}'` over 1,000 containers (target < 0.3 s). One real
 *          container is created; the other 999 records are copies of its config with their
 *          own ID, name and creation time, exited (ps reads records, not the containers' files).
 *   stats  `stats --no-stream` over 50 running containers (target < 0.5 s; it includes the
 *          200 ms between its two readings, as CPU % is a rate).
 * `node -e 0` is printed beside them: Node's own start-up is most of a short command.
 * Medians of BENCH_RUNS (default 7).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { TSRUN, cleanupDir, importBusybox, tsrunOk } from '../test/helpers/cli.js';
import { median } from './timing.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

function timed(argv: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.toString()}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const cli = (root: string, args: string[]) => [process.execPath, '--', TSRUN, '--root', root, ...args];
const fmt = (s: number) => `${(s * 1000).toFixed(0)} ms`;

function nodeBaseline(): number {
  return median(Array.from({ length: RUNS }, () => timed([process.execPath, '-e', '0'])));
}

function benchPs(base: string): void {
  const root = path.join(base, 'ps');
  importBusybox(root);
  const first = tsrunOk(root, ['create', '--name', 'c0', 'busybox', 'true']).trim();
  const dir = path.join(root, 'containers');
  const config = JSON.parse(fs.readFileSync(path.join(dir, first, 'config.json'), 'utf8')) as Record<string, unknown>;
  const now = Date.now();
  for (let i = 1; i < 1000; i++) {
    const id = crypto.randomBytes(32).toString('hex');
    fs.mkdirSync(path.join(dir, id));
    fs.writeFileSync(path.join(dir, id, 'config.json'), JSON.stringify({ ...config, id, name: `c${i}`, created: new Date(now - i * 1000).toISOString() }, null, 2));
    const at = new Date(now - i * 500).toISOString();
    fs.writeFileSync(path.join(dir, id, 'state.json'), JSON.stringify({ status: 'exited', exitCode: 0, startedAt: at, finishedAt: at }, null, 2));
  }
  const argv = cli(root, ['ps', '-a', '--format', '{{.Names}}']);
  timed(argv); // code cache
  const t = median(Array.from({ length: RUNS }, () => timed(argv)));
  console.log(`ps -a --format '{{.Names}}', 1,000 containers: ${fmt(t)} (target < 300 ms)`);
}

function benchStats(base: string): void {
  const root = path.join(base, 'stats');
  importBusybox(root);
  const ids: string[] = [];
  try {
    for (let i = 0; i < 50; i++) ids.push(tsrunOk(root, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']).trim());
    const argv = cli(root, ['stats', '--no-stream']);
    timed(argv);
    const t = median(Array.from({ length: RUNS }, () => timed(argv)));
    console.log(`stats --no-stream, 50 running containers: ${fmt(t)} (target < 500 ms; 200 ms of it is the sampling window)`);
  } finally {
    if (ids.length) spawnSync(process.execPath, ['--', TSRUN, '--root', root, 'rm', '-f', ...ids], { stdio: 'ignore' });
  }
}

export async function benchSystem(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-system-'));
  try {
    console.log(`node -e 0: ${fmt(nodeBaseline())}`);
    benchPs(base);
    benchStats(base);
  } finally {
    cleanupDir(base);
  }
}
