/**
 * A stand-in for the runtime's launcher, for lifecycle tests that must not
 * depend on `run -d`: it writes a container record by hand and starts a
 * monitor process (node) that spawns the command on the host, puts it in the
 * container's cgroup, logs its output to ctr.log in docker json-file form and
 * writes exit.json when it ends — the same protocol as tsrun-init.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { openCtx } from '../../src/context.js';
import type { ContainerConfig, ContainerState } from '../../src/containers/record.js';
import { createCgroup } from '../../src/runtime/cgroups.js';
import { procStartTime } from '../../src/containers/status.js';

const MONITOR = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const [dir, procsJson, ...cmd] = process.argv.slice(1);
const log = fs.openSync(dir + '/ctr.log', 'a');
const delay = Number(process.env.FAKE_EXIT_RECORD_DELAY_MS || 0);
const procs = JSON.parse(procsJson);
// join the cgroup first so the child is born in it (no window outside); a monitor that must outlive
// a kill of the cgroup (as tsrun-init's does: it is not in it) has the child join before its exec
if (!delay) for (const f of procs) fs.writeFileSync(f, String(process.pid));
const joinThenExec = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n-1)); done; exec "$@"';
const argv = delay ? ['sh', '-c', joinThenExec, 'sh', String(procs.length), ...procs, ...cmd] : cmd;
const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
const out = (stream) => (buf) => {
  for (const line of buf.toString().split(/(?<=\\n)/)) if (line) fs.writeSync(log, JSON.stringify({ log: line, stream, time: new Date().toISOString() }) + '\\n');
};
child.stdout.on('data', out('stdout'));
child.stderr.on('data', out('stderr'));
child.on('spawn', () => process.stdout.write(child.pid + '\\n'));
// the real monitor leaves the cgroup's processes to the kernel; ignore what is meant for process 1
for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGHUP']) process.on(s, () => {});
child.on('close', (code, signal) => setTimeout(() => {
  const exitCode = signal ? 128 + os.constants.signals[signal] : code;
  const tmp = dir + '/.exit.tmp';
  fs.writeFileSync(tmp, JSON.stringify({ exitCode, ...(signal ? { signal } : {}), finishedAt: new Date().toISOString() }));
  fs.renameSync(tmp, dir + '/exit.json');
  process.exit(0);
}, delay));
`;

export interface FakeOptions {
  name?: string;
  image?: string;
  created?: string;
  /** The monitor records the exit this long after the process ended (a real one may flush attach clients first). */
  exitRecordDelayMs?: number;
}

function baseConfig(root: string, id: string, name: string, argv: string[], image: string, created?: string): ContainerConfig {
  const ctx = openCtx(root);
  const img = ctx.images.get(image);
  return {
    id,
    name,
    created: created ?? new Date().toISOString(),
    image,
    imageId: img.record.id,
    layers: img.chainIds,
    path: argv[0]!,
    args: argv.slice(1),
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    workingDir: '/',
    user: '',
    hostname: id.slice(0, 12),
    tty: false,
    openStdin: false,
    stopSignal: 'SIGTERM',
    labels: {},
    host: {
      autoRemove: false,
      mounts: [],
      readonlyRootfs: false,
      network: 'none',
      privileged: false,
      capAdd: [],
      capDrop: [],
      noNewPrivileges: false,
      seccomp: 'default',
      init: false,
      ulimits: [],
    },
  };
}

/** A created (never started) container record. */
export function fakeCreate(root: string, argv: string[], opts: FakeOptions = {}): { id: string; dir: string } {
  const id = crypto.randomBytes(32).toString('hex');
  const dir = path.join(root, 'containers', id);
  fs.mkdirSync(path.join(dir, 'upper'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
  const config = baseConfig(root, id, opts.name ?? `fake_${id.slice(0, 6)}`, argv, opts.image ?? 'busybox', opts.created);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ status: 'created' } satisfies ContainerState));
  return { id, dir };
}

/** Start argv (on the host) as the process of a new container record; resolves once state.json says running. */
export async function fakeRun(root: string, argv: string[], opts: FakeOptions = {}): Promise<{ id: string; dir: string; pid: number; monitorPid: number }> {
  const { id, dir } = fakeCreate(root, argv, opts);
  const { procsFiles } = createCgroup(openCtx(root), id);
  const monitor = spawn(process.execPath, ['-e', MONITOR, dir, JSON.stringify(procsFiles), ...argv], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FAKE_EXIT_RECORD_DELAY_MS: String(opts.exitRecordDelayMs ?? 0) },
    detached: true,
  });
  const pid = await new Promise<number>((resolve, reject) => {
    let buf = '';
    monitor.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(Number(buf.trim()));
    });
    monitor.once('exit', () => reject(new Error('fake monitor died')));
  });
  monitor.stdout!.destroy();
  monitor.unref();
  const state: ContainerState = {
    status: 'running',
    pid,
    pidStart: procStartTime(pid),
    monitorPid: monitor.pid!,
    monitorStart: procStartTime(monitor.pid!),
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
  return { id, dir, pid, monitorPid: monitor.pid! };
}
