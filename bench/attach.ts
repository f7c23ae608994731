/**
 * attach: what going through a monitor's attach socket costs.
 *   round trip   `tsrun attach` to a `run -di` container that waits for one line: connect, send it,
 *                the container exits, attach ends with its code. Beside `exec CTR true` and
 *                `node -e 0` (attach is a Node start plus tsrun-init as the client).
 *   throughput   100 MB of output (1000-byte lines) through an attach client to /dev/null, beside the
 *                same output of a foreground `run` (the monitor writes it to tsrun's stdout itself).
 *                Both pay for the json-file log the monitor writes as it copies.
 * No peer: docker's attach goes through its daemon's HTTP API, podman's through conmon.
 * Medians of BENCH_RUNS (default 5).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TSRUN, cleanupDir, importBusybox, tsrun, tsrunOk } from '../test/helpers/cli.js';
import { median } from './timing.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const cli = (root: string, args: string[]) => [process.execPath, '--', TSRUN, '--root', root, ...args];

function timed(argv: string[], input?: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${argv.slice(3, 8).join(' ')}: exit ${r.status}: ${r.stderr?.toString().trim()}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const FLOOD = 'line=$(head -c 999 /dev/zero | tr "\\0" x); yes "$line" | head -c 100000000';

export async function benchAttach(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-attach-'));
  const root = path.join(base, 'root');
  fs.mkdirSync(root);
  try {
    importBusybox(root);
    tsrunOk(root, ['run', '-d', '--network', 'none', '--name', 'warm', 'busybox', 'sleep', '1000']);
    const node = median(Array.from({ length: RUNS }, () => timed([process.execPath, '-e', '0'])));
    const exec = median(Array.from({ length: RUNS }, () => timed(cli(root, ['exec', 'warm', 'true']))));
    const trips: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      tsrunOk(root, ['run', '-di', '--network', 'none', '--name', `rt${i}`, 'busybox', 'sh', '-c', 'read x; exit 0']);
      trips.push(timed(cli(root, ['attach', `rt${i}`]), 'go\n'));
      tsrun(root, ['rm', '-f', `rt${i}`]);
    }
    console.log(`attach round trip: ${median(trips).toFixed(0)} ms   exec CTR true: ${exec.toFixed(0)} ms   node -e 0: ${node.toFixed(0)} ms`);
    const viaAttach: number[] = [];
    const viaRun: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      tsrunOk(root, ['run', '-di', '--network', 'none', '--name', `fl${i}`, 'busybox', 'sh', '-c', `read x; ${FLOOD}`]);
      viaAttach.push(timed(cli(root, ['attach', `fl${i}`]), 'go\n'));
      tsrun(root, ['rm', '-f', `fl${i}`]);
      viaRun.push(timed(cli(root, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', FLOOD])));
    }
    // the run's own start-up is not output: taken out with a run of `true`
    const start = median(Array.from({ length: RUNS }, () => timed(cli(root, ['run', '--rm', '--network', 'none', 'busybox', 'true']))));
    const a = median(viaAttach) - median(trips);
    const r = median(viaRun) - start;
    console.log(`100 MB of output (start-up taken out): through attach ${a.toFixed(0)} ms (${(100 / (a / 1000)).toFixed(0)} MB/s), foreground run ${r.toFixed(0)} ms (${(100 / (r / 1000)).toFixed(0)} MB/s), attach/run ${(a / r).toFixed(2)}x`);
  } finally {
    tsrun(root, ['rm', '-f', 'warm']);
    cleanupDir(base);
  }
}
