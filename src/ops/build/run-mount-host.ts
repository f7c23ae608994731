/**
 * RUN --mount on the host side: what each mount of a step becomes in the step's container
 * (run's -v and --tmpfs specs, plus environment for env= secrets), made just before the
 * step runs and undone right after it.
 *   cache   ROOT/build-cache/mounts/<sha256(id)>/data, kept between builds (BuildKit's
 *           cache mounts). sharing=shared: used by any number of steps at once; locked: one
 *           step at a time (others wait); private: a step that finds it in use gets a fresh
 *           empty one, dropped afterwards. uid/gid/mode apply when it is first made.
 *           from=STAGE|IMAGE[,source=PATH]: a cache of its own per source, first filled
 *           with a copy of that path.
 *   bind    a path of the context (default) or of another stage's or image's filesystem
 *           (from=). Read-only by default; with rw the step writes into an overlay whose
 *           upper dir is thrown away, so neither the source nor the layer sees the writes.
 *   tmpfs   a tmpfs (size= in bytes): nothing written there is committed.
 *   secret  a `build --secret` value as a read-only file (default /run/secrets/ID) on a
 *           host tmpfs and/or an environment variable: never in a layer, key or history.
 *   ssh     a proxy socket to a `build --ssh` agent (ssh-agents.ts), default
 *           /run/buildkit/ssh_agent.N, and SSH_AUTH_SOCK naming the first one.
 * Mount points tsrun had to create for these are reported as stubs: the commit skips them.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import type { Ctx } from '../../context.js';
import { native, MNT_DETACH } from '../../native.js';
import { lockExclusiveAsync, lockShared, tryLockExclusive, type Lock } from '../../util/lock.js';
import { syscallError } from '../../util/errors.js';
import { LineError } from './errors.js';
import { lowerLstat } from './build-layers.js';
import type { RunMount } from './run-mount.js';
import { selectCopy, selectionChecksum, type CopyRoot } from './copy-select.js';
import type { BuildCache } from './build-cache.js';
import type { StepMounts } from './run-step.js';
import { proxySocket, type SshAgents } from './ssh-agents.js';

/** What RUN --mount needs from the build. */
export interface MountSources {
  ctx: Ctx;
  contextDir: string;
  /** `build --secret` values by id. */
  secrets: ReadonlyMap<string, Buffer>;
  /** The filesystem of a stage or image named by from=, as a directory (mounted for the step). */
  rootOf(from: string): Promise<string>;
  /** The step's own image layers, topmost first: which mount points already exist. */
  lowers: readonly string[];
  /** The cache key of a stage or image named by from= (a cache mount's identity depends on it). */
  keyOf(from: string): string;
  /** `build --ssh` agents (RUN --mount=type=ssh); undefined: none given. */
  ssh?: SshAgents;
  /** The step's environment (an SSH_AUTH_SOCK there wins over the ssh mount's). */
  env?: readonly string[];
}

export interface PreparedMounts extends StepMounts {
  release(): void;
}

/**
 * The mounts' part of a RUN step's cache key: how each is mounted, and what a bind mount
 * shows (the checksum of the context files it shows, or the source stage's key). Never a
 * secret's value, nor a cache mount's contents (they change under any step, as BuildKit's).
 */
export function mountsKey(mounts: readonly RunMount[], context: CopyRoot, cache: BuildCache, stageKey: (from: string) => string, where: { file: string; line: number }): unknown[] {
  return mounts.map((m) => {
    const base = { type: m.type, target: m.target, readOnly: m.readOnly };
    switch (m.type) {
      case 'cache':
        return { ...base, id: m.id ?? m.target, sharing: m.sharing ?? 'shared', uid: m.uid, gid: m.gid, mode: m.mode, ...(m.from !== undefined ? { from: stageKey(m.from), source: m.source } : {}) };
      case 'tmpfs':
        return { ...base, size: m.size };
      case 'bind': {
        if (m.from !== undefined) return { ...base, source: m.source, from: stageKey(m.from) };
        const sel = selectCopy(context, [m.source ?? '.'], '/mnt/', where);
        return { ...base, source: m.source, sum: selectionChecksum(sel, cache) };
      }
      case 'ssh':
        return { ...base, id: m.id, required: m.required, uid: m.uid, gid: m.gid, mode: m.mode };
      default:
        return { ...base, id: secretId(m), env: m.env, required: m.required, uid: m.uid, gid: m.gid, mode: m.mode };
    }
  });
}

/** ROOT/build-cache/mounts: one directory per cache id. */
export function cacheMountsDir(ctx: Ctx): string {
  return path.join(ctx.root, 'build-cache', 'mounts');
}

function cacheDirOf(ctx: Ctx, id: string): string {
  return path.join(cacheMountsDir(ctx), crypto.createHash('sha256').update(id).digest('hex').slice(0, 32));
}

/** The secret's id: given, or the target's base name (BuildKit). */
export function secretId(m: RunMount): string {
  return m.id ?? m.source ?? path.posix.basename(m.target ?? '');
}

function secretTarget(m: RunMount): string | undefined {
  if (m.target) return m.target;
  if (m.env) return undefined; // env= alone: no file
  return `/run/secrets/${secretId(m)}`;
}

function noColon(p: string, what: string): string {
  if (p.includes(':')) throw new LineError(`${what} ${JSON.stringify(p)} contains ':', which tsrun cannot mount`, 'rename the path');
  return p;
}

/** `rel` inside `root` with every symlink resolved, refused when it leaves root. */
function insideRoot(root: string, rel: string, context: boolean): string {
  const p = path.join(root, path.posix.normalize('/' + rel));
  let real: string;
  try {
    real = fs.realpathSync(p);
  } catch {
    throw new LineError(`failed to mount ${rel}: no such file or directory in the ${context ? 'build context' : 'source stage'}`);
  }
  const rootReal = fs.realpathSync(root);
  if (real !== rootReal && !real.startsWith(rootReal + '/')) throw new LineError(`failed to mount ${rel}: it points outside the ${context ? 'build context' : 'source stage'}`);
  return real;
}

export async function prepareRunMounts(mounts: readonly RunMount[], src: MountSources): Promise<PreparedMounts> {
  const { ctx } = src;
  const volume: string[] = [];
  const tmpfs: string[] = [];
  const env: string[] = [];
  const targets: string[] = [];
  const undo: (() => void)[] = [];
  const release = () => {
    for (const u of undo.splice(0).reverse()) {
      try {
        u();
      } catch {
        /* best effort: the rest still runs */
      }
    }
  };
  const tempDir = (tag: string, base = ctx.tmpDir) => {
    fs.mkdirSync(base, { recursive: true });
    const d = fs.mkdtempSync(path.join(base, `${process.pid}-${tag}-`));
    undo.push(() => fs.rmSync(d, { recursive: true, force: true }));
    return d;
  };
  let sshIndex = 0;
  try {
    for (const m of mounts) {
      if (m.type === 'ssh') {
        // BuildKit numbers the default targets by the ssh mount's place in the RUN
        const n = sshIndex++;
        const target = noColon(m.target ?? `/run/buildkit/ssh_agent.${n}`, 'target');
        const id = m.id ?? 'default';
        if (!src.ssh?.has(id)) {
          if (!m.required) continue;
          if (!src.ssh?.any) throw new LineError(`no SSH key ${JSON.stringify(id)} forwarded from the client`, `pass it with build --ssh ${id}[=SOCKET|KEYFILE]`);
          throw new LineError(`unset ssh forward key ${id}`, `pass it with build --ssh ${id}[=SOCKET|KEYFILE]`);
        }
        const agent = await src.ssh.socketFor(id);
        const file = path.join(tempDir('ssh'), 'agent.sock');
        const proxy = await proxySocket(file, agent, { uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o600 });
        undo.push(() => proxy.close());
        volume.push(`${file}:${target}`);
        targets.push(target);
        const has = (e: string) => e.startsWith('SSH_AUTH_SOCK=');
        if (!env.some(has) && !src.env?.some(has)) env.push(`SSH_AUTH_SOCK=${target}`);
        continue;
      }
      if (m.type === 'cache') {
        const target = noColon(m.target!, 'target');
        // from=: a cache of its own per source (BuildKit keys it "cache-dir:ID:REF"), seeded from it when made
        const dir = cacheDirOf(ctx, m.from === undefined ? (m.id ?? target) : `${m.id ?? target}\0from:${src.keyOf(m.from)}\0${m.source ?? '/'}`);
        // a bad from=/source= fails before the cache's directory exists: the store stays as it was
        const seed = m.from !== undefined && !fs.existsSync(path.join(dir, 'data')) ? seedSource(await src.rootOf(m.from), m.source ?? '/') : undefined;
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const lockFile = path.join(dir, 'lock');
        const sharing = m.sharing ?? 'shared';
        let lock: Lock | undefined;
        let data = path.join(dir, 'data');
        if (sharing === 'locked') lock = await lockExclusiveAsync(lockFile);
        else if (sharing === 'private') {
          lock = tryLockExclusive(lockFile);
          if (!lock) data = path.join(tempDir('cache'), 'data'); // in use: a fresh one for this step alone
        } else lock = lockShared(lockFile);
        if (lock) undo.push(() => lock!.release());
        if (!fs.existsSync(data)) {
          if (m.from !== undefined) seedCache(data, seed ?? seedSource(await src.rootOf(m.from), m.source ?? '/'), m.source ?? '/');
          else {
            fs.mkdirSync(data);
            fs.chownSync(data, m.uid ?? 0, m.gid ?? 0);
            fs.chmodSync(data, m.mode ?? 0o755);
          }
        }
        fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ id: m.id ?? target, lastUsed: new Date().toISOString() }));
        volume.push(`${data}:${target}`);
        targets.push(target);
      } else if (m.type === 'tmpfs') {
        const target = noColon(m.target!, 'target');
        tmpfs.push(m.size !== undefined ? `${target}:size=${m.size}` : target);
        targets.push(target);
      } else if (m.type === 'bind') {
        const target = noColon(m.target!, 'target');
        const context = m.from === undefined;
        const root = context ? src.contextDir : await src.rootOf(m.from!);
        const source = insideRoot(root, m.source ?? '/', context);
        noColon(source, 'source');
        if (m.readOnly) volume.push(`${source}:${target}:ro`);
        else if (fs.statSync(source).isDirectory()) {
          // writes land in a throw-away upper dir: the source and the image never see them
          const t = tempDir('bind');
          for (const d of ['upper', 'work', 'mnt']) fs.mkdirSync(path.join(t, d));
          const mnt = path.join(t, 'mnt');
          try {
            native().mountOverlay(mnt, { lowerdirs: [source], upperdir: path.join(t, 'upper'), workdir: path.join(t, 'work'), options: { index: 'off' } });
          } catch (err) {
            throw syscallError(`cannot mount ${m.source ?? '/'} writable for RUN --mount=type=bind`, err);
          }
          undo.push(() => native().umount2(mnt, MNT_DETACH));
          volume.push(`${mnt}:${target}`);
        } else {
          const copy = path.join(tempDir('bind'), 'file');
          fs.copyFileSync(source, copy);
          volume.push(`${copy}:${target}`);
        }
        targets.push(target);
      } else {
        const id = secretId(m);
        const value = src.secrets.get(id);
        if (value === undefined) {
          if (m.required) throw new LineError(`secret ${id}: not found`, `pass it with --secret id=${id},src=FILE (or env=VAR)`);
          continue;
        }
        const target = secretTarget(m);
        if (target) {
          noColon(target, 'target');
          // a host tmpfs: the value never touches a disk
          const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : ctx.tmpDir;
          const file = path.join(tempDir('secret', shm), 'value');
          fs.writeFileSync(file, value, { mode: 0o600 });
          fs.chownSync(file, m.uid ?? 0, m.gid ?? 0);
          fs.chmodSync(file, m.mode ?? 0o400);
          volume.push(`${file}:${target}:ro`);
          targets.push(target);
        }
        if (m.env) env.push(`${m.env}=${value.toString('utf8')}`);
      }
    }
  } catch (err) {
    release();
    throw err;
  }
  return { volume, tmpfs, env, stubs: (upper) => mountStubs(targets, src.lowers, upper), release };
}

/** from=/source= of a cache mount: the directory to copy, checked. */
function seedSource(root: string, source: string): string {
  const from = insideRoot(root, source, false);
  if (!fs.statSync(from).isDirectory()) throw new LineError(`cache mount source ${source} is not a directory`, 'name a directory of the stage with source=');
  return from;
}

/**
 * A cache mount with from=: its first contents are a copy of `source` in that stage or image,
 * owners, modes, xattrs and all (BuildKit makes the cache on top of that snapshot; uid, gid
 * and mode do not apply). Copied to a temp name and renamed, so a step beside it never sees
 * half a seed.
 */
function seedCache(data: string, from: string, source: string): void {
  const tmp = `${data}.seed-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    const r = spawnSync('cp', ['-a', '--reflink=auto', '--', `${from}/.`, tmp], { encoding: 'utf8' });
    if (r.status !== 0) throw new LineError(`cannot seed the cache mount from ${source}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
    if (!fs.existsSync(data)) fs.renameSync(tmp, data);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The directories tsrun-init created only to hold a mount point: a target's parents that
 * the image lacks and that hold nothing but the way to the target in the upper dir.
 * (The targets themselves are mount destinations: the commit skips them already.)
 */
export function mountStubs(targets: readonly string[], lowers: readonly string[], upper: string): string[] {
  const stubs = new Set<string>();
  for (const t of targets) {
    const parts = path.posix.normalize(t).split('/').filter(Boolean);
    for (let i = parts.length - 1; i >= 1; i--) {
      const rel = parts.slice(0, i).join('/');
      if (lowerLstat(lowers, rel)) break; // the image has it: not ours
      let entries: string[];
      try {
        entries = fs.readdirSync(path.join(upper, rel));
      } catch {
        break;
      }
      const child = parts[i]!;
      const childRel = parts.slice(0, i + 1).join('/');
      const onlyWay = entries.every((e) => e === child) && (i === parts.length - 1 || stubs.has(childRel));
      if (!onlyWay) break;
      stubs.add(rel);
    }
  }
  return [...stubs];
}
