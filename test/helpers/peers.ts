/**
 * Real peers for interop tests and benchmarks: podman, skopeo, umoci, crun.
 * Each gets private state in a temp dir so tests never touch the machine's
 * own podman storage. podman on this machine needs a private containers.conf:
 * root cannot raise nofile past the hard 20000, and crun 1.8 refuses the
 * hybrid cgroup layout, so runc is the OCI runtime.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export interface Podman {
  /** Run podman with the private config and storage; returns stdout, throws with stderr on failure. */
  run(args: string[], opts?: { input?: string | Buffer; allowFail?: boolean; timeoutMs?: number }): { code: number; stdout: string; stderr: string };
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function podman(baseDir: string): Podman {
  const dir = path.join(baseDir, 'podman');
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'containers.conf');
  fs.writeFileSync(
    conf,
    ['[containers]', 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]', 'netns = "none"', '', '[engine]', 'runtime = "runc"', 'events_logger = "none"', `tmp_dir = "${dir}/tmp"`, ''].join('\n'),
  );
  const storageConf = path.join(dir, 'storage.conf');
  fs.writeFileSync(storageConf, ['[storage]', 'driver = "overlay"', `graphroot = "${dir}/graph"`, `runroot = "${dir}/run"`, ''].join('\n'));
  const env = { ...process.env, CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storageConf };
  const run: Podman['run'] = (args, opts = {}) => {
    const r = spawnSync('podman', ['--root', `${dir}/graph`, '--runroot', `${dir}/run`, '--cgroup-manager', 'cgroupfs', ...args], {
      env,
      input: opts.input,
      timeout: opts.timeoutMs ?? 300_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    const res = { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
    if (res.code !== 0 && !opts.allowFail) throw new Error(`podman ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
    return res;
  };
  return {
    run,
    dir,
    env,
    cleanup() {
      run(['rm', '-af'], { allowFail: true });
      run(['system', 'reset', '-f'], { allowFail: true });
      for (let i = 0; i < 3; i++) {
        const mounts = fs
          .readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4])
          .filter((m): m is string => !!m && m.startsWith(dir))
          .sort((a, b) => b.length - a.length);
        if (!mounts.length) break;
        for (const m of mounts) spawnSync('umount', ['-l', m]);
      }
      spawnSync('rm', ['-rf', '--one-file-system', dir]);
    },
  };
}

/** Run a command, returning stdout; throws with stderr when it fails. */
export function sh(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env ?? process.env, maxBuffer: 256 * 1024 * 1024, timeout: 300_000 });
  const res = { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  return res;
}
