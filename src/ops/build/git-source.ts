/**
 * Git sources, as BuildKit's git source does them, with the `git` binary: a build context
 * given as a git URL (`https://host/repo.git#REF:SUBDIR`, `git@host:repo.git#REF`, `git://…`,
 * and `file://…` for a local repository) and `ADD <git URL> /dst` (`--keep-git-dir`).
 *   resolve   `git ls-remote` turns REF (a tag, a branch, a full ref; HEAD when none) into
 *             a commit; a full 40-hex REF is taken as the commit. The commit is what keys the
 *             cache, so a cached ADD of an unchanged ref fetches nothing.
 *   fetch     `git init` + `git fetch --depth=1 origin REF` (a full fetch when the server
 *             will not hand out a bare commit), checkout of that commit, submodules as BuildKit
 *             does (`--recursive --depth=1`); .git removed unless kept.
 * git never prompts (GIT_TERMINAL_PROMPT=0, ssh in BatchMode); its last error line is the hint.
 * ssh: with `build --ssh default[=…]` git's ssh authenticates with that agent alone, as BuildKit's
 * git source does with the "default" forwarded agent (`-F /dev/null`, no identity files); a host
 * key already in ~/.ssh/known_hosts is checked, an unknown one is accepted and not written
 * anywhere (BuildKit trusts an ssh-keyscan made when the build starts). Without it, ssh runs
 * as the user's own (their config, keys and agent).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import type { Ctx } from '../../context.js';
import { TsrunError } from '../../util/errors.js';
import { LineError } from './errors.js';
import { isGitSource } from './add-url.js';

export interface GitRef {
  remote: string;
  /** Tag, branch, full ref or commit; undefined: the remote's HEAD. */
  ref?: string;
  /** A directory of the checkout to use instead of its root. */
  subdir?: string;
  /** `?checksum=`/`?commit=`: the commit REF must resolve to (a prefix of it), as BuildKit checks. */
  checksum?: string;
  /** `?keep-git-dir=BOOL` (ADD's --keep-git-dir says the same). */
  keepGitDir?: boolean;
  /** `?submodules=BOOL` (default true: submodules are fetched). */
  submodules?: boolean;
}

/** A build context that names a git repository (BuildKit's shapes, plus file:// for local ones). */
export function isGitContext(s: string): boolean {
  return isGitSource(s) || /^file:\/\//i.test(s);
}

/**
 * A git URL → its parts, as BuildKit's dfgitutil.ParseGitRef reads them: the fragment
 * `REMOTE#REF:SUBDIR`, and the query form `REMOTE?ref=R&subdir=D` (also `tag=`, `branch=`,
 * `checksum=`/`commit=`, `keep-git-dir=`, `submodules=`). Both may be given when they agree.
 */
export function parseGitRef(s: string): GitRef {
  const hash = s.indexOf('#');
  let remote = hash < 0 ? s : s.slice(0, hash);
  const frag = hash < 0 ? '' : s.slice(hash + 1);
  const colon = frag.indexOf(':');
  let ref = colon < 0 ? frag : frag.slice(0, colon);
  let subdir = colon < 0 ? '' : frag.slice(colon + 1);
  const q = remote.indexOf('?');
  const out: Omit<GitRef, 'remote' | 'ref' | 'subdir'> = {};
  if (q >= 0) {
    const query = new URLSearchParams(remote.slice(q + 1));
    remote = remote.slice(0, q);
    let tag = '';
    let branch = '';
    const bool = (k: string, v: string): boolean => {
      // Go's strconv.ParseBool; a bare key means true
      if (v === '' || /^(1|t|T|TRUE|true|True)$/.test(v)) return true;
      if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false;
      throw new LineError(`invalid ${k} value: ${JSON.stringify(v)}`, 'use true or false');
    };
    for (const k of new Set(query.keys())) {
      const all = query.getAll(k);
      if (all.length > 1) throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: query ${JSON.stringify(k)} has multiple values`);
      const v = all[0]!;
      if (v === '' && k !== 'submodules' && k !== 'keep-git-dir') throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: query ${JSON.stringify(k)} has no value`);
      const agree = (what: string, have: string, want: string) => {
        if (have && have !== want) throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: ${what} conflicts: ${JSON.stringify(have)} vs ${JSON.stringify(want)}`);
      };
      switch (k) {
        case 'ref':
          agree('ref', ref, v);
          ref = v;
          break;
        case 'tag':
          tag = v.startsWith('refs/tags/') ? v : `refs/tags/${v}`;
          break;
        case 'branch':
          branch = v.startsWith('refs/heads/') ? v : `refs/heads/${v}`;
          break;
        case 'subdir':
          agree('subdir', subdir, v);
          subdir = v;
          break;
        case 'checksum':
        case 'commit':
          if (!/^[0-9a-f]{1,64}$/.test(v)) throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: ${k} ${JSON.stringify(v)} is not a commit id`);
          out.checksum = v;
          break;
        case 'keep-git-dir':
          out.keepGitDir = bool(k, v);
          break;
        case 'submodules':
          out.submodules = bool(k, v);
          break;
        default:
          throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: unexpected query ${JSON.stringify(k)}`, 'use ref, tag, branch, subdir, checksum, keep-git-dir or submodules');
      }
    }
    if (tag) {
      if (ref && ref !== tag) throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: ref conflicts: ${JSON.stringify(ref)} vs ${JSON.stringify(tag)}`);
      ref = tag;
    }
    if (branch) {
      if (tag) throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: branch conflicts with tag`);
      if (ref && ref !== branch) throw new LineError(`invalid git URL ${JSON.stringify(shownRemote(s))}: ref conflicts: ${JSON.stringify(ref)} vs ${JSON.stringify(branch)}`);
      ref = branch;
    }
  }
  if (!remote) throw new LineError(`invalid git URL ${JSON.stringify(s)}: no repository`);
  return { remote, ...(ref ? { ref } : {}), ...(subdir && subdir !== '/' && subdir !== '.' ? { subdir } : {}), ...out };
}

/** The URL as shown in messages: without user:password. */
export function shownRemote(remote: string): string {
  return remote.replace(/^([a-z+]+:\/\/)[^@/]+@/i, '$1');
}

/** How git reaches ssh remotes: an agent socket (`build --ssh default`), else the user's own ssh. */
export interface GitAccess {
  sshAgent?: string;
}

const AGENT_SSH = "ssh -F /dev/null -o BatchMode=yes -o IdentityFile=none -o StrictHostKeyChecking=accept-new -o 'UserKnownHostsFile=/dev/null ~/.ssh/known_hosts'";

const gitEnv = (a: GitAccess): NodeJS.ProcessEnv => ({
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_SSH_COMMAND: a.sshAgent ? AGENT_SSH : (process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes'),
  ...(a.sshAgent ? { SSH_AUTH_SOCK: a.sshAgent } : {}),
  // a clone of a file:// repository with file:// submodules (git refuses those by default since 2.38.1)
  GIT_ALLOW_PROTOCOL: process.env.GIT_ALLOW_PROTOCOL ?? 'file:git:http:https:ssh',
  LC_ALL: 'C',
});

/** Run git; resolve with stdout, reject with its last stderr line. */
function git(args: string[], cwd?: string, timeoutMs = 10 * 60_000, access: GitAccess = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: gitEnv(access), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' ? 'the git binary is not installed (apt-get install git)' : e.message));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(out);
      // ssh's own reason (auth, host key, connection) over git's generic "Could not read from remote" advice
      const lines = err.trim().split('\n').filter(Boolean);
      const ssh = lines.find((l) => /Permission denied \(|Host key verification failed|port \d+: Connection refused|Could not resolve hostname/.test(l));
      const last = ssh ?? lines.pop() ?? (signal ? `killed by ${signal}` : `exit ${code}`);
      reject(new Error(last.replace(/^fatal: /, '')));
    });
  });
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/** REF's commit on the remote (ls-remote; a full commit id as it is). */
export async function resolveCommit(g: GitRef, access: GitAccess = {}): Promise<string> {
  const commit = await resolveRef(g, access);
  if (g.checksum && !commit.startsWith(g.checksum)) {
    throw new LineError(`git repository ${shownRemote(g.remote)}: expected checksum to match ${g.checksum}, got ${commit}`, `${g.ref ?? 'HEAD'} names another commit now; update the checksum or the ref`);
  }
  return commit;
}

async function resolveRef(g: GitRef, access: GitAccess): Promise<string> {
  if (g.ref && FULL_SHA.test(g.ref)) return g.ref;
  const want = g.ref ?? 'HEAD';
  let out: string;
  try {
    out = await git(['ls-remote', '--', g.remote, want, `${want}^{}`], undefined, 2 * 60_000, access);
  } catch (e) {
    throw new LineError(`failed to read git repository ${shownRemote(g.remote)}: ${(e as Error).message}`, 'check the URL, that the repository is reachable and that you may read it');
  }
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name) refs.set(name, sha);
  }
  // an annotated tag's commit (^{}) first, then tags, branches, a full ref name
  const order = want === 'HEAD' ? ['HEAD'] : [`refs/tags/${want}^{}`, `refs/tags/${want}`, `refs/heads/${want}`, `${want}^{}`, want];
  for (const name of order) {
    const sha = refs.get(name);
    if (sha) return sha;
  }
  throw new LineError(`git repository ${shownRemote(g.remote)}: ref ${JSON.stringify(want)} not found`, 'give a branch, a tag or a full commit id after #');
}

/**
 * A checkout of `commit` in a new temp dir under ctx.tmpDir; `dir` is its SUBDIR (checked to
 * be a directory inside the checkout). The caller removes `base` (cleanup()).
 */
export async function checkoutGit(ctx: Ctx, g: GitRef, commit: string, o: { keepGitDir?: boolean; access?: GitAccess } = {}): Promise<{ dir: string; base: string; cleanup(): void }> {
  const net = (args: string[], cwd: string) => git(args, cwd, undefined, o.access);
  fs.mkdirSync(ctx.tmpDir, { recursive: true });
  const base = fs.mkdtempSync(path.join(ctx.tmpDir, `${process.pid}-git-${crypto.randomBytes(2).toString('hex')}-`));
  const cleanup = () => fs.rmSync(base, { recursive: true, force: true });
  const repo = path.join(base, 'checkout');
  const shown = shownRemote(g.remote);
  try {
    await git(['init', '-q', repo]);
    await git(['remote', 'add', 'origin', g.remote], repo);
    const want = g.ref && !FULL_SHA.test(g.ref) ? g.ref : commit;
    try {
      await net(['fetch', '-q', '--depth=1', '--no-tags', 'origin', want], repo);
    } catch {
      // a server that will not hand out a bare commit: fetch everything, then pick it
      await net(['fetch', '-q', '--tags', 'origin'], repo);
    }
    await git(['-c', 'advice.detachedHead=false', 'checkout', '-q', commit], repo);
    if (g.submodules !== false && fs.existsSync(path.join(repo, '.gitmodules'))) await net(['submodule', 'update', '-q', '--init', '--recursive', '--depth=1'], repo);
    if (!(o.keepGitDir ?? g.keepGitDir)) fs.rmSync(path.join(repo, '.git'), { recursive: true, force: true });
  } catch (e) {
    cleanup();
    if (e instanceof TsrunError || e instanceof LineError) throw e;
    throw new LineError(`failed to fetch ${commit.slice(0, 12)} from git repository ${shown}: ${(e as Error).message}`, 'check the URL and the ref');
  }
  let dir = repo;
  if (g.subdir) {
    const want = path.join(repo, path.posix.normalize('/' + g.subdir));
    let real: string | undefined;
    try {
      real = fs.realpathSync(want);
    } catch {
      /* missing */
    }
    if (!real || !(real === repo || real.startsWith(repo + '/')) || !fs.statSync(real).isDirectory()) {
      cleanup();
      throw new LineError(`git repository ${shown}: ${g.subdir} is not a directory of ${g.ref ?? 'HEAD'}`, 'give a directory of the repository after #REF:');
    }
    dir = real;
  }
  return { dir, base, cleanup };
}

/** `tsrun build GITURL`: the checkout as the build context (its Dockerfile, its .dockerignore). */
export async function gitContext(ctx: Ctx, url: string, access: GitAccess = {}): Promise<{ dir: string; commit: string; dockerfileText?: string; cleanup(): void }> {
  try {
    const g = parseGitRef(url);
    const commit = await resolveCommit(g, access);
    const c = await checkoutGit(ctx, g, commit, { access });
    return { dir: c.dir, commit, cleanup: c.cleanup };
  } catch (e) {
    if (e instanceof LineError) throw new TsrunError('BUILD', `unable to prepare context: ${e.message}`, { hint: e.hint });
    throw e;
  }
}
