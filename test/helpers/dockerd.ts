/**
 * A private docker daemon for the docker interop test and the commit benchmark
 * (Debian's docker.io, dockerd 20.10): its own data root, exec root, pid file,
 * socket and config file under one directory, no bridge, no iptables or
 * masquerade rules (the machine's firewall is not touched), and its own
 * containerd, which dockerd starts under the exec root when --containerd is not
 * given. overlay2 first, vfs when the kernel or the backing filesystem refuses
 * overlay2. stop() ends the daemon (and its containerd) by PID, unmounts what
 * is left below the directory and removes it, whatever state the daemon is in.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
// not a zombie: the daemon is this process's child, which Node cannot reap while these loops block it
import { alive } from './proc.js';

export interface Dockerd {
  /** The storage driver the daemon runs with (overlay2, or vfs as a fallback). */
  driver: string;
  sock: string;
  /** Run the docker CLI against this daemon; throws with stderr on failure unless allowFail. */
  docker(args: string[], opts?: { input?: string | Buffer; allowFail?: boolean; timeoutMs?: number }): { code: number; stdout: string; stderr: string };
  stop(): void;
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.toString().trim() : undefined;
}

/** dockerd, and the docker CLI of the same package (a newer CLI elsewhere on PATH talks to 20.10 too, but one is enough). */
function binaries(): { dockerd: string; docker: string } {
  const dockerd = which('dockerd');
  if (!dockerd) throw new Error('dockerd is missing: apt-get install docker.io (scripts/setup.sh installs it)');
  const docker = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : which('docker');
  if (!docker) throw new Error('the docker CLI is missing: apt-get install docker.io (scripts/setup.sh installs it)');
  return { dockerd, docker };
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);


function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** TERM, wait, then KILL: one process, by its PID. */
function endProcess(pid: number | undefined, graceMs: number): void {
  if (!pid || !alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (const end = Date.now() + graceMs; Date.now() < end && alive(pid); ) sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (const end = Date.now() + 5000; Date.now() < end && alive(pid); ) sleep(20);
  }
}

function unmountBelow(dir: string): void {
  for (let i = 0; i < 3; i++) {
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + '/')))
      .sort((a, b) => b.length - a.length);
    if (!mounts.length) return;
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  }
}

/** rmdir NAME (and any empty child) in every cgroup hierarchy; a cgroup with processes stays. */
function removeCgroups(name: string): void {
  const roots = ['/sys/fs/cgroup'];
  try {
    for (const h of fs.readdirSync('/sys/fs/cgroup')) roots.push(path.join('/sys/fs/cgroup', h));
  } catch {
    return;
  }
  const rm = (d: string) => {
    let kids: fs.Dirent[] = [];
    try {
      kids = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const k of kids) if (k.isDirectory()) rm(path.join(d, k.name));
    try {
      fs.rmdirSync(d);
    } catch {
      /* busy or gone */
    }
  };
  for (const r of roots) if (fs.existsSync(path.join(r, name))) rm(path.join(r, name));
}

/** Start one daemon under `dir` (created; removed by stop()). Throws, with the daemon's last log lines, when it does not come up. */
export function startDockerd(dir: string): Dockerd {
  const bin = binaries();
  fs.mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, 'docker.sock');
  const pidfile = path.join(dir, 'dockerd.pid');
  const execRoot = path.join(dir, 'exec');
  const log = path.join(dir, 'dockerd.log');
  // the containers' cgroups go below a parent of this daemon's own, removed by stop()
  const cgroupParent = `tsrun-dockerd-${process.pid}-${path.basename(path.dirname(dir))}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  // its own (empty) config: the machine's /etc/docker/daemon.json must not change what the tests see
  fs.writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'client') };
  delete env.DOCKER_CONTEXT;
  const docker: Dockerd['docker'] = (args, opts = {}) => {
    const r = spawnSync(bin.docker, ['-H', `unix://${sock}`, ...args], { env, input: opts.input, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 256 * 1024 * 1024 });
    const res = { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
    if (res.code !== 0 && !opts.allowFail) throw new Error(`docker ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
    return res;
  };
  let pid: number | undefined;
  const stop = () => {
    endProcess(readPid(pidfile) ?? pid, 20_000);
    // the containerd dockerd started (it stops it on a clean exit; not after a SIGKILL)
    endProcess(readPid(path.join(execRoot, 'containerd', 'containerd.pid')), 5000);
    unmountBelow(dir);
    spawnSync('rm', ['-rf', '--one-file-system', dir]);
    removeCgroups(cgroupParent);
  };
  const tryDriver = (driver: string): boolean => {
    const out = fs.openSync(log, 'a');
    const child = spawn(
      bin.dockerd,
      [
        '--config-file', path.join(dir, 'daemon.json'),
        '--data-root', path.join(dir, 'data'),
        '--exec-root', execRoot,
        '--pidfile', pidfile,
        '-H', `unix://${sock}`,
        '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip6tables=false',
        '--storage-driver', driver,
        '--cgroup-parent', `/${cgroupParent}`,
      ],
      { detached: true, stdio: ['ignore', out, out], env },
    );
    fs.closeSync(out);
    child.unref();
    pid = child.pid;
    for (const end = Date.now() + 120_000; Date.now() < end; sleep(200)) {
      if (!pid || !alive(pid)) return false; // exited: the driver (or something else) was refused
      if (fs.existsSync(sock) && docker(['version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: 10_000 }).code === 0) return true;
    }
    endProcess(pid, 10_000);
    return false;
  };
  try {
    for (const driver of ['overlay2', 'vfs']) {
      if (tryDriver(driver)) return { driver, sock, docker, stop };
      // what dockerd left of a refused start, before the next driver
      endProcess(readPid(path.join(execRoot, 'containerd', 'containerd.pid')), 5000);
      fs.rmSync(pidfile, { force: true });
    }
    const tail = fs.readFileSync(log, 'utf8').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`dockerd did not start with overlay2 or vfs: ${tail}`);
  } catch (err) {
    stop();
    throw err;
  }
}
