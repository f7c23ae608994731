/**
 * Helpers for tests of tsrun-runtime (the OCI runtime CLI): bundles made from
 * the busybox rootfs fixture with `tsrun-runtime spec`'s default config, the
 * runtime run against a temporary --root, and the checks that nothing of a
 * container is left (state dir, cgroup dirs, mounts, processes).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, busyboxTar } from './cli.js';

export const RUNTIME = path.join(REPO, 'bin', 'tsrun-runtime');

export interface RtResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `tsrun-runtime --root ROOT ARGS…`. A created container keeps create's stdout and stderr (they
 * are its stdio, as for runc), so they go to files here, never to pipes a caller would wait on.
 */
export function rt(root: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): RtResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-rt-out-'));
  const out = fs.openSync(path.join(dir, 'out'), 'w+');
  const err = fs.openSync(path.join(dir, 'err'), 'w+');
  try {
    const r = spawnSync(RUNTIME, ['--root', root, ...args], {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', out, err],
      input: opts.input,
      // generous: a loaded CI machine can take seconds per verb; a hang still fails
      timeout: opts.timeoutMs ?? 120_000,
    });
    return {
      code: r.status ?? 128,
      stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'),
      stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8'),
    };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** create with the container's stdio in BUNDLE/stdio.log (create's own errors land there too). */
export function rtCreate(root: string, bundle: string, id: string, extra: string[] = []): RtResult {
  const log = fs.openSync(path.join(bundle, 'stdio.log'), 'a');
  try {
    const r = spawnSync(RUNTIME, ['--root', root, 'create', '--bundle', bundle, ...extra, id], { stdio: ['ignore', log, log], timeout: 120_000 });
    const text = fs.readFileSync(path.join(bundle, 'stdio.log'), 'utf8');
    return { code: r.status ?? 128, stdout: '', stderr: text };
  } finally {
    fs.closeSync(log);
  }
}

export type Spec = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let counter = 0;

/**
 * A bundle: rootfs/ from the busybox fixture and config.json from `tsrun-runtime spec`,
 * run without a terminal, in its own cgroup path, changed by edit().
 */
export function makeBundle(parent: string, edit: (spec: Spec) => void = () => {}): { dir: string; cgroup: string } {
  const dir = fs.mkdtempSync(path.join(parent, 'bundle-'));
  fs.mkdirSync(path.join(dir, 'rootfs'));
  const x = spawnSync('tar', ['-xf', busyboxTar(), '-C', path.join(dir, 'rootfs')]);
  if (x.status !== 0) throw new Error(`tar: ${x.stderr}`);
  const s = spawnSync(RUNTIME, ['spec', '--bundle', dir]);
  if (s.status !== 0) throw new Error(`tsrun-runtime spec: ${s.stderr}`);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec;
  const cgroup = `/tsrun-rt-test-${process.pid}-${++counter}`;
  spec.process.terminal = false;
  spec.linux.cgroupsPath = cgroup;
  edit(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return { dir, cgroup };
}

/** The dirs the container's cgroup path has on this host (any v1 hierarchy or the v2 tree). */
export function cgroupDirs(cgroup: string): string[] {
  const found: string[] = [];
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const d = path.join('/sys/fs/cgroup', h, cgroup);
    if (fs.existsSync(d)) found.push(d);
  }
  const v2 = path.join('/sys/fs/cgroup', cgroup);
  if (fs.existsSync(v2)) found.push(v2);
  return found;
}

/** Host mounts whose mount point is inside dir. */
export function mountsInside(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
}

export { alive } from './proc.js';

/** After a test: every container under ROOT killed and deleted, leftover cgroups removed. */
export function cleanupRuntime(root: string, cgroups: string[]): void {
  if (fs.existsSync(root))
    for (const id of fs.readdirSync(root)) rt(root, ['delete', '--force', id]);
  for (const cg of cgroups)
    for (const d of cgroupDirs(cg)) {
      try {
        for (const pid of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(d);
          break;
        } catch {
          spawnSync('sleep', ['0.05']);
        }
      }
    }
  fs.rmSync(root, { recursive: true, force: true });
}
