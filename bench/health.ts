/**
 * Restart policies and healthchecks, what they cost beyond docker's own rules:
 *   restart      a container that fails at once under --restart on-failure:8: the time between
 *                two starts (read from /proc/uptime inside the container) less docker's back-off
 *                (100 ms doubling) is what tsrun adds per restart: the monitor becoming
 *                `tsrun __on-exit` (a Node start), the decision under the lock, the new start.
 *   healthcheck  `healthcheck run` (one check: find, exec the probe, record) beside `exec … true`
 *                and `node -e 0`: a scheduled check costs the same, once per interval.
 * No peer: docker's daemon and podman's conmon/systemd timers are not comparable processes here.
 * Medians of BENCH_RUNS (default 7).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TSRUN, cleanupDir, importBusybox, tsrun, tsrunOk } from '../test/helpers/cli.js';
import { median } from './timing.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

function timed(argv: string[]): number {
  const t = process.hrtime.bigint();
  spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const cli = (root: string, args: string[]) => [process.execPath, '--', TSRUN, '--root', root, ...args];
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

async function benchRestart(root: string, scratch: string): Promise<void> {
  const out = path.join(scratch, 'restart');
  fs.mkdirSync(out);
  tsrunOk(root, ['run', '-d', '--network', 'none', '--name', 'restarter', '--restart', 'on-failure:8', '-v', `${out}:/out`, 'busybox', 'sh', '-c', 'cat /proc/uptime >> /out/starts; exit 1']);
  const file = path.join(out, 'starts');
  const end = Date.now() + 60_000;
  const starts = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0])) : []);
  while (starts().length < 9 && Date.now() < end) await sleep(100);
  const s = starts();
  const overhead = s.slice(1).map((v, i) => (v - s[i]!) * 1000 - 100 * 2 ** i);
  console.log(`restart: ${s.length - 1} restarts, tsrun's time per restart beyond docker's back-off: median ${overhead.length ? median(overhead).toFixed(0) : '?'} ms (each: ${overhead.map((o) => o.toFixed(0)).join(', ')} ms; /proc/uptime has 10 ms steps)`);
  tsrun(root, ['rm', '-f', 'restarter']);
}

function benchHealthcheck(root: string): void {
  tsrunOk(root, ['run', '-d', '--network', 'none', '--name', 'checked', '--health-cmd', 'true', '--health-interval', '1h', 'busybox', 'sleep', '1000']);
  const hc = cli(root, ['healthcheck', 'run', 'checked']);
  const ex = cli(root, ['exec', 'checked', 'true']);
  timed(hc); // code cache
  timed(ex);
  const node = median(Array.from({ length: RUNS }, () => timed([process.execPath, '-e', '0'])));
  const h = median(Array.from({ length: RUNS }, () => timed(hc)));
  const e = median(Array.from({ length: RUNS }, () => timed(ex)));
  console.log(`healthcheck run: ${ms(h)}   exec CTR true: ${ms(e)}   node -e 0: ${ms(node)}`);
  tsrun(root, ['rm', '-f', 'checked']);
}

export async function benchHealth(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-health-'));
  const root = path.join(base, 'root');
  const scratch = path.join(base, 'scratch');
  fs.mkdirSync(scratch, { recursive: true });
  try {
    importBusybox(root);
    await benchRestart(root, scratch);
    benchHealthcheck(root);
  } finally {
    cleanupDir(base);
  }
}
