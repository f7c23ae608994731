/**
 * Test helpers: run the real CLI as a subprocess against a temporary --root,
 * and clean up every mount and process a test made, even when it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync, spawn, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { procStartTime } from '../../src/containers/status.js';
import { alive } from './proc.js';
import { mountsBelow } from '../../src/util/mountinfo.js';
import { rootTag } from '../../src/runtime/network/store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (tests run from dist/test/helpers). */
export const REPO = path.resolve(here, '../../..');
export const TSRUN = path.join(REPO, 'bin', 'tsrun');
export const FIXTURES = path.join(REPO, 'test', 'fixtures', '.cache');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  signal: NodeJS.Signals | null;
}

export interface CliOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
}

/** Run `tsrun --root ROOT ARGS…` and wait for it. */
export function tsrun(root: string, args: string[], opts: CliOptions = {}): CliResult {
  const r: SpawnSyncReturns<Buffer> = spawnSync(process.execPath, ['--', TSRUN, '--root', root, ...args], {
    input: opts.input,
    env: { ...process.env, ...opts.env },
    // a bound for a hung command, not a performance check: on a busy machine one command can queue
    // for minutes (netavark's host-wide lock, behind every other test's network setup and teardown)
    timeout: opts.timeoutMs ?? 300_000,
    cwd: opts.cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
  return {
    code: r.status ?? (r.signal ? 128 : -1),
    stdout: r.stdout?.toString() ?? '',
    stderr: r.stderr?.toString() ?? '',
    signal: r.signal,
  };
}

/** Like tsrun() but fails the test with the CLI's stderr when the exit code is not 0. */
export function tsrunOk(root: string, args: string[], opts: CliOptions = {}): string {
  const r = tsrun(root, args, opts);
  if (r.code !== 0) throw new Error(`tsrun ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Start tsrun without waiting (for signals, SIGKILL tests, detached checks). */
export function tsrunSpawn(root: string, args: string[], opts: CliOptions = {}) {
  return spawn(process.execPath, ['--', TSRUN, '--root', root, ...args], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Mount points at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  return mountsBelow(dir);
}

/** PIDs of processes whose cwd, root or executable lies below dir (containers started by a test). */
function processesUnder(dir: string): number[] {
  const real = fs.realpathSync(dir);
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    for (const link of ['root', 'cwd']) {
      try {
        const t = fs.readlinkSync(`/proc/${name}/${link}`);
        if (t === real || t.startsWith(real + '/')) {
          pids.push(Number(name));
          break;
        }
      } catch {
        /* gone or not ours */
      }
    }
  }
  return pids;
}

export interface TempRoot {
  /** The --root directory. */
  root: string;
  /** A scratch dir next to it for test files. */
  scratch: string;
  /** Kill processes left in it, unmount everything below it, remove it. */
  cleanup(): void;
}

/** A fresh tsrun root for one test; call cleanup() in after()/finally. */
export function tempRoot(prefix = 'tsrun-test-'): TempRoot {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const root = path.join(base, 'root');
  const scratch = path.join(base, 'scratch');
  fs.mkdirSync(root);
  fs.mkdirSync(scratch);
  return {
    root,
    scratch,
    cleanup() {
      cleanupDir(base);
    },
  };
}

export function cleanupDir(base: string): void {
  if (!fs.existsSync(base)) return;
  // containers first, by the PIDs their records name: once pivoted, their root no longer shows the temp dir;
  // then the tsrun jobs their monitors started (a scheduled healthcheck, __on-exit, --rm's rm -f), until none
  // is left (a restart policy's __on-exit can start the container again with a new monitor)
  for (let round = 0; round < 5; round++) {
    const pids = [...containerPids(base), ...processesUnder(base), ...tsrunJobsOf(base)].filter(alive);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  releaseNetworks(base);
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(base);
    if (!mounts.length) break;
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  }
  removeContainerCgroups(base);
  // out of its path first: a job that still slips in (started before the kills above, not yet in /proc's
  // view) finds no store there, instead of writing into a tree rm is walking (rm fails on a dir refilled)
  const doomed = `${base}.rm-${process.pid}`;
  try {
    fs.renameSync(base, doomed);
  } catch {
    /* not renameable (a busy mount point): removed where it is */
  }
  spawnSync('rm', ['-rf', '--one-file-system', fs.existsSync(doomed) ? doomed : base]);
}

/**
 * tsrun processes working on base/root (`node bin/tsrun --root ROOT …`): the jobs a container's monitor
 * starts. Not the network teardown jobs (sh, network/pending.ts): releaseNetworks waits for those.
 */
function tsrunJobsOf(base: string): number[] {
  const root = path.join(base, 'root');
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone (ESRCH) or not readable
    }
    const i = argv.indexOf('--root');
    if (i > 0 && argv[i + 1] === root && argv.some((a) => a.endsWith('/bin/tsrun'))) pids.push(Number(name));
  }
  return pids;
}

/**
 * Containers whose network is still set up (network.json): `rm -f` replays its teardown (veth,
 * rules, netns mount under /run/tsrun, lease), which the temp dir's removal cannot reach.
 */
function releaseNetworks(base: string): void {
  const root = path.join(base, 'root');
  const dir = path.join(root, 'containers');
  const ids = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((id) => fs.existsSync(path.join(dir, id, 'network.json')));
  if (ids.length) spawnSync(process.execPath, [TSRUN, '--root', root, 'rm', '-f', ...ids], { timeout: 120_000 });
  // teardowns handed to detached jobs after a foreground exit (network/pending.ts): let them finish
  const pending = path.join(root, 'networks', 'pending');
  for (let end = Date.now() + 15_000; fs.existsSync(pending) && fs.readdirSync(pending).some((f) => f.endsWith('.json')) && Date.now() < end; ) {
    spawnSync('sleep', ['0.05']);
  }
  // the bridges of this root's networks (names carry the root's hash: no other root's), when no port is left on them
  const nets = path.join(root, 'networks');
  for (const f of fs.existsSync(nets) ? fs.readdirSync(nets) : []) {
    if (!f.endsWith('.json')) continue;
    try {
      const br = (JSON.parse(fs.readFileSync(path.join(nets, f), 'utf8')) as { network_interface?: string }).network_interface;
      if (br && /^tsr[0-9a-f]{6}n\d+$/.test(br) && fs.existsSync(`/sys/class/net/${br}/brif`) && !fs.readdirSync(`/sys/class/net/${br}/brif`).length) spawnSync('ip', ['link', 'del', br]);
    } catch {
      /* unreadable record */
    }
  }
  // netavark's per-root aardvark-dns config dir on /run (empty once the root's last container left)
  fs.rmSync(path.join('/run/tsrun/netavark', rootTag(path.resolve(root))), { recursive: true, force: true });
}

/** PIDs (container process 1 and its monitor) named by state.json of containers below base/root. */
function containerPids(base: string): number[] {
  const dir = path.join(base, 'root', 'containers');
  const pids: number[] = [];
  for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    try {
      const st = JSON.parse(fs.readFileSync(path.join(dir, id, 'state.json'), 'utf8')) as {
        pid?: number;
        pidStart?: number;
        monitorPid?: number;
        monitorStart?: number;
        restarting?: { pid?: number; pidStart?: number };
      };
      // only while the PID still names the process the record saw start (PIDs are reused);
      // a restart policy's watcher waiting out its back-off would start the container again
      // the monitor before its container: a monitor that sees its container die starts its exit jobs
      for (const [pid, start] of [
        [st.restarting?.pid, st.restarting?.pidStart],
        [st.monitorPid, st.monitorStart],
        [st.pid, st.pidStart],
      ]) {
        if (pid && start !== undefined && procStartTime(pid) === start) pids.push(pid);
      }
    } catch {
      /* no state: never started */
    }
  }
  return pids;
}

/**
 * Register before/after hooks for a suite that needs a temp root with busybox
 * imported; the returned function gives the root inside tests.
 */
export function useBusyboxRoot(): () => TempRoot {
  let t: TempRoot | undefined;
  before(() => {
    t = tempRoot();
    importBusybox(t.root);
  });
  after(() => t?.cleanup());
  return () => t!;
}

/**
 * Remove the cgroups of containers below base, as recorded in each
 * containers/ID/cgroup.json: a test that failed before `rm -f` must not
 * leave cgroups behind. Only dirs named tsrun-* under /sys/fs/cgroup are touched.
 */
function removeContainerCgroups(base: string): void {
  const dirs: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      if (n === 'cgroup.json') {
        try {
          const rec = JSON.parse(fs.readFileSync(p, 'utf8')) as { dirs?: string[] };
          for (const c of rec.dirs ?? []) if (c.startsWith('/sys/fs/cgroup/') && path.basename(c).startsWith('tsrun-')) dirs.push(c);
        } catch {
          /* unreadable record: nothing to remove */
        }
      } else if (depth < 4 && !n.startsWith('.') && ['root', 'containers'].includes(n) || /^[a-f0-9]{64}$/.test(n)) {
        walk(p, depth + 1);
      }
    }
  };
  walk(base, 0);
  for (const dir of dirs) {
    // a frozen cgroup (a tsrun killed mid-commit or mid-pause) holds its SIGKILLed processes until thawed
    for (const [file, thawed] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
      try {
        fs.writeFileSync(path.join(dir, file), thawed);
      } catch {
        /* not this controller or version */
      }
    }
    for (let i = 0; i < 20 && fs.existsSync(dir); i++) {
      try {
        for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        fs.rmdirSync(dir);
      } catch {
        spawnSync('sleep', ['0.05']);
      }
    }
  }
}

/**
 * The busybox rootfs tarball (built once from Debian's busybox-static by
 * scripts/make-busybox-rootfs.sh and cached under test/fixtures/.cache).
 */
export function busyboxTar(): string {
  const out = path.join(FIXTURES, 'busybox-rootfs.tar');
  if (!fs.existsSync(out)) {
    fs.mkdirSync(FIXTURES, { recursive: true });
    const r = spawnSync(path.join(REPO, 'scripts', 'make-busybox-rootfs.sh'), [out], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not build the busybox rootfs fixture');
  }
  return out;
}

/** Import the busybox rootfs into ROOT as REF (default busybox:latest); returns the image ID. */
export function importBusybox(root: string, ref = 'busybox:latest', extra: string[] = []): string {
  return tsrunOk(root, ['import', ...extra, busyboxTar(), ref]).trim();
}

/** A snapshot of a store's files (path → size/mode/link target) to assert that a failed command changed nothing. */
export function snapshotTree(dir: string): string[] {
  // network teardowns handed to detached jobs by earlier commands (network/pending.ts) end first:
  // they change leases and their own records, whatever the command under test does
  // (generously: they queue on netavark's one host-wide lock behind every other test's network)
  const pending = path.join(dir, 'networks', 'pending');
  for (let end = Date.now() + 180_000; fs.existsSync(pending) && fs.readdirSync(pending).length && Date.now() < end; ) spawnSync('sleep', ['0.05']);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(dir, p);
      if (rel.endsWith('.lock')) continue; // lock files appear on first use and hold no data
      if (rel === path.join('networks', 'pending')) continue; // appears on first use; its records are waited for above
      // appears on a build's first RUN on the default network; its records move to pending/ as the build ends
      if (rel === path.join('networks', 'shared') && !fs.readdirSync(p).length) continue;
      out.push(`${rel} ${st.mode.toString(8)} ${st.isFile() ? st.size : ''} ${st.isFile() && st.size < 1 << 20 ? fs.readFileSync(p).toString('base64').slice(0, 64) : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** `tsrun build --network none --progress plain` that must succeed: the image ID (from --iidfile) and the plain log. */
export function buildOk(t: TempRoot, args: string[]): { id: string; log: string } {
  const iid = path.join(t.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(t.root, ['build', '--network', 'none', '--progress', 'plain', '--iidfile', iid, ...args]);
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}
