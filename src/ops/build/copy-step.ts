/**
 * What a COPY or ADD copies, gathered before the cache check: files of the context (or of
 * another stage or image, `--from`), heredoc bodies (`COPY <<EOF /dst`), and for ADD
 * downloaded URLs; with the part of the step's cache key each contributes. Heredocs and
 * downloads are written to a temp dir the step's cleanups remove. With `--checksum` a URL
 * is keyed by that checksum and downloaded only when the step is not cached. A git URL is
 * keyed by the commit its ref names and fetched only when the step is not cached.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Ctx } from '../../context.js';
import type { Step } from './stage-plan.js';
import { selectCopy, selectionChecksum, type CopyRoot, type Selected } from './copy-select.js';
import type { BuildCache } from './build-cache.js';
import { atLine, dockerfileError, type LineError } from './errors.js';
import { TsrunError } from '../../util/errors.js';
import { download, isGitSource, isHttpUrl, parseChecksum, urlFileName } from './add-url.js';
import { checkoutGit, parseGitRef, resolveCommit, type GitAccess } from './git-source.js';
import type { SshAgents } from './ssh-agents.js';

type CopyStep = Extract<Step, { kind: 'copy' }>;

export interface CopyEnv {
  ctx: Ctx;
  contextRoot: CopyRoot;
  cache: BuildCache;
  /** `--from`'s filesystem (a stage or an image) as a directory, and its cache key. */
  fromRoot(ref: string): Promise<{ dir: string; key: string }>;
  cleanups: (() => void)[];
  /** --ssh agents: the "default" one authenticates git's ssh fetches (BuildKit's git source). */
  ssh?: SshAgents;
}

export interface CopyPrep {
  selected: Selected[];
  /** The step's key input; for context files it reads each file whose checksum is not cached. */
  keyInput(): unknown;
  /**
   * Write the layer before the key (its writer then hashes each file as it copies it: one
   * read instead of two) when most of the context bytes selected have no cached checksum:
   * a context seen for the first time, or --no-cache (the layer is written anyway). The
   * cost when the step then turns out cached (every file touched, none changed): a layer
   * written and thrown away.
   */
  writeFirst(noCache: boolean): boolean;
  /** Called on a cache miss: downloads deferred by --checksum. */
  complete(): Promise<void>;
}

function tempDir(ctx: Ctx, cleanups: (() => void)[]): string {
  const d = path.join(ctx.tmpDir, `${process.pid}-copy-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const bigStat = (p: string) => fs.lstatSync(p, { bigint: true });

export async function prepareCopy(step: CopyStep, env: CopyEnv): Promise<CopyPrep> {
  const { file, line } = step.instr;
  const name = step.add ? 'ADD' : 'COPY';
  const git = step.sources.find(isGitSource);
  if (step.keepGitDir && !git) throw dockerfileError(file, line, 'ADD --keep-git-dir applies to git sources only', 'leave it out, or ADD a git URL');
  if (git) {
    if (!step.add) throw dockerfileError(file, line, `COPY ${git}: source can't be a git URL for COPY`, 'use ADD for a git repository');
    return prepareGitAdd(step, git, env);
  }
  const urls = step.add ? step.sources.filter(isHttpUrl) : [];
  const local = step.sources.filter((s) => !urls.includes(s));
  const total = step.sources.length + step.contents.length;
  const destIsDir = step.dest.endsWith('/') || total > 1;
  const destDir = step.dest.endsWith('/') ? step.dest : step.dest + '/';
  const where = { file, line };
  const selected: Selected[] = [];
  const key: (unknown | (() => unknown))[] = [];
  let contextSel: Selected[] | undefined;
  const pending: (() => Promise<void>)[] = [];

  if (local.length) {
    const opts = { total, exclude: step.exclude, parents: step.parents, add: step.add && step.unpack !== false };
    if (step.from !== undefined) {
      const src = await env.fromRoot(step.from);
      const root: CopyRoot = { dir: src.dir, context: false };
      selected.push(...atLine(file, line, () => selectCopy(root, local, step.dest, where, opts)));
      key.push({ from: src.key, local });
    } else {
      const sel = atLine(file, line, () => selectCopy(env.contextRoot, local, step.dest, where, opts));
      selected.push(...sel);
      contextSel = sel;
      key.push(() => ({ sum: selectionChecksum(sel, env.cache) }));
    }
  }

  let tmp: string | undefined;
  const tmpDir = () => (tmp ??= tempDir(env.ctx, env.cleanups));
  for (const url of urls) {
    const expected = step.checksum === undefined ? undefined : atLine(file, line, () => parseChecksum(step.checksum!));
    const target = destIsDir ? destDir + urlFileName(url) : step.dest;
    const fetchInto = async () => {
      const dir = fs.mkdtempSync(path.join(tmpDir(), 'url-'));
      const got = await atLineAsync(file, line, () => download(url, dir, expected));
      selected.push({ abs: got.file, st: bigStat(got.file), target });
      return got;
    };
    if (expected !== undefined) {
      key.push({ url, sha256: expected, target });
      pending.push(async () => void (await fetchInto()));
    } else {
      const got = await fetchInto();
      key.push({ url, sha256: got.sha256, lastModified: got.lastModified, target });
    }
  }

  for (const c of step.contents) {
    const dir = fs.mkdtempSync(path.join(tmpDir(), 'heredoc-'));
    const p = path.join(dir, 'f');
    fs.writeFileSync(p, c.data, { mode: 0o644 });
    fs.chmodSync(p, 0o644);
    const target = destIsDir ? destDir + c.name : step.dest;
    selected.push({ abs: p, st: bigStat(p), target });
    key.push({ heredoc: c.name, sha256: crypto.createHash('sha256').update(c.data).digest('hex'), target });
  }

  return {
    selected,
    keyInput: () => ({ copy: step.createdBy, sources: key.map((k) => (typeof k === 'function' ? k() : k)), dest: step.dest, chown: step.chown, chmod: step.chmod, link: step.link, exclude: step.exclude, parents: step.parents }),
    writeFirst: (noCache) => {
      if (!contextSel || pending.length) return false;
      let all = 0;
      let missing = 0;
      for (const s of contextSel) {
        if (!s.st.isFile()) continue;
        all += Number(s.st.size);
        if (!env.cache.hasSum(s.abs, s.st)) missing += Number(s.st.size);
      }
      return missing > 0 && (noCache || missing * 2 >= all);
    },
    complete: async () => {
      for (const p of pending) await p();
    },
  };
}

/**
 * `ADD <git URL> /dst`: the ref is resolved now (it keys the step: an unchanged ref is a cache
 * hit without a fetch); on a miss the commit is checked out into a temp dir and copied as a
 * directory source would be (no .git unless --keep-git-dir; never unpacked).
 */
async function prepareGitAdd(step: CopyStep, url: string, env: CopyEnv): Promise<CopyPrep> {
  const { file, line } = step.instr;
  if (step.sources.length + step.contents.length > 1) throw dockerfileError(file, line, `ADD ${url}: a git source must be the only source of its ADD`, 'one ADD per repository');
  if (step.checksum !== undefined) throw dockerfileError(file, line, `ADD ${url}: --checksum with a git source is not supported by tsrun build`, 'pin the commit in the URL (#<40-hex commit>) instead');
  const g = atLine(file, line, () => parseGitRef(url));
  const access: GitAccess = env.ssh?.has('default') ? { sshAgent: await env.ssh.socketFor('default') } : {};
  const commit = await atLineAsync(file, line, () => resolveCommit(g, access));
  const selected: Selected[] = [];
  // --keep-git-dir or the URL's ?keep-git-dir= (BuildKit keeps .git when either asks)
  const keepGitDir = step.keepGitDir || !!g.keepGitDir;
  return {
    selected,
    keyInput: () => ({ add: step.createdBy, git: { remote: g.remote, commit, subdir: g.subdir, keepGitDir, ...(g.submodules === false ? { submodules: false } : {}) }, dest: step.dest, chown: step.chown, chmod: step.chmod, link: step.link, exclude: step.exclude }),
    writeFirst: () => false,
    complete: async () => {
      const c = await atLineAsync(file, line, () => checkoutGit(env.ctx, g, commit, { keepGitDir, access }));
      env.cleanups.push(c.cleanup);
      const root: CopyRoot = { dir: c.dir, context: false };
      selected.push(...atLine(file, line, () => selectCopy(root, ['.'], step.dest, { file, line }, { total: 1, exclude: step.exclude })));
    },
  };
}

async function atLineAsync<T>(file: string, line: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TsrunError || !(e instanceof Error)) throw e;
    throw dockerfileError(file, line, e.message, (e as LineError).hint);
  }
}
