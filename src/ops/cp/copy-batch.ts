/**
 * cp's regular files, copied a batch at a time by the addon (native/addon/copyfiles.c) on threads
 * of their own while the JS thread walks on, makes directories and writes symlinks.
 *
 * Why: copied one by one from JS, a file cost ~12 synchronous node:fs calls, each looking up a
 * /proc/self/fd/N/NAME path, plus a thrown ENOENT for "is something at the name?" (profiled on a
 * 10,000-file tree into a stopped container: ~65% kernel, a quarter of it those lookups, ~8%
 * building exceptions). The addon opens both ends with openat() relative to the same directory
 * fds (one name, O_NOFOLLOW), so the confinement is the one write-confined.ts gives.
 *
 * A batch refers to directories by fd: they stay open until it is waited for. So a directory the
 * walk has left is released through after(): its metadata (its mtime changes with every file
 * written in it) and its close run once every file added before has been copied. One batch runs
 * while the next is filled; anything thrown ends in abort(), which waits for the running batch
 * before a single fd is closed (a closed fd number reused for a host directory must never be
 * written through).
 */
import { native } from '../../native.js';
import { ConfinedDir } from '../../util/confined-dir.js';
import { errnoError, syscallError, TsrunError } from '../../util/errors.js';

/**
 * Files per batch, and threads per batch: the kernel's work of creating and writing files is ~3/4
 * of a copy's CPU time (perf), so two threads on contiguous halves (mostly different directories),
 * with the JS thread walking meanwhile, keep both cores of the target machine busy.
 */
const BATCH_FILES = 128;
const THREADS = 2;
/** Released directories waiting for a batch before the running one is waited for early (2 fds each). */
const MAX_HELD = 128;

/** copyfiles.c's steps (CF_STEP_*) and the entries it leaves to JS. */
const STEPS = ['open', 'fstat', 'open', 'unlink', 'read', 'write', 'fchown', 'fchmod', 'futimens', 'close', 'fstat'] as const;
export const CF_GONE = 100;
export const CF_CHANGED = 101;
export const CF_HARDLINK = 102;
export const CF_DST_DIR = 103;

/** One file of a batch: the same name in the two directories. */
export interface BatchFile {
  src: ConfinedDir;
  dst: ConfinedDir;
  name: string;
  /** Relative to the copy's top (for hard links and messages). */
  rel: string;
  /** Where, for messages (`CTR:/path/rel`). */
  at: string;
}

/** Work that waits for the files added before it. `close` also runs when the copy is abandoned. */
interface Release {
  done?: () => void;
  close: () => void;
}

interface Batch {
  files: BatchFile[];
  releases: Release[];
  handle?: object;
}

export interface BatchOptions {
  live: boolean;
  /** 0: left as created, 1: the source's, 2: uid/gid. */
  owner: 0 | 1 | 2;
  uid: number;
  gid: number;
  /** A file copyfiles.c left to JS (gone, changed, a hard link, a directory at the destination). */
  leftover: (f: BatchFile, what: number) => void;
}


export class FileBatcher {
  private building: Batch = { files: [], releases: [] };
  private running: Batch | undefined;
  private held = 0;
  private readonly opts: Float64Array;

  constructor(private readonly o: BatchOptions) {
    this.opts = Float64Array.of(o.live ? 1 : 0, o.owner, o.uid, o.gid, THREADS);
  }

  add(f: BatchFile): void {
    this.building.files.push(f);
    if (this.building.files.length >= BATCH_FILES) this.flush();
  }

  /** Run `done` then `close` once every file added so far is copied (now, when none is pending). */
  after(r: Release): void {
    const into = this.building.files.length ? this.building : this.running;
    if (!into) {
      r.done?.();
      r.close();
      return;
    }
    into.releases.push(r);
    if (++this.held >= MAX_HELD) this.flush();
  }

  /** Everything added copied, every release run. */
  finish(): void {
    this.flush();
    this.waitRunning();
  }

  /** After a failure: wait for the running batch (its results dropped), then close what was held. */
  abort(): void {
    const batches = [this.running, this.building].filter((b): b is Batch => !!b);
    this.running = undefined;
    this.building = { files: [], releases: [] };
    let first: unknown;
    for (const b of batches) {
      if (b.handle) native().copyFilesWait(b.handle);
      for (const r of b.releases) {
        try {
          r.close();
        } catch (err) {
          first ??= err;
        }
      }
    }
    if (first) throw first;
  }

  /** Wait for the running batch, then start the one being filled. */
  private flush(): void {
    this.waitRunning();
    const b = this.building;
    this.building = { files: [], releases: [] };
    if (!b.files.length) {
      this.runReleases(b);
      return;
    }
    const enc: Buffer[] = [];
    const meta = new Int32Array(b.files.length * 6);
    let off = 0;
    b.files.forEach((f, i) => {
      const name = Buffer.from(f.name + '\0');
      enc.push(name);
      meta.set([f.src.fd, off, name.length - 1, f.dst.fd, off, name.length - 1], i * 6);
      off += name.length;
    });
    try {
      b.handle = native().copyFilesStart(Buffer.concat(enc, off), meta, this.opts);
    } catch (err) {
      this.building.releases.unshift(...b.releases.map((r) => ({ close: r.close })));
      throw err;
    }
    this.running = b;
  }

  private waitRunning(): void {
    const b = this.running;
    if (!b) return;
    this.running = undefined;
    const res = native().copyFilesWait(b.handle!);
    b.handle = undefined; // waited: abort() must not wait again
    try {
      for (let k = 0; res && k < res.length; k += 3) {
        const f = b.files[res[k]!]!;
        const errno = res[k + 1]!;
        const step = res[k + 2]!;
        if (errno !== 0) throw syscallError(`cannot copy ${f.at}`, errnoError(errno, STEPS[step] ?? 'copy'));
        if (step < CF_GONE) throw new TsrunError('INTERNAL', `cp: batch result ${step} without an error for ${f.at}`);
        this.o.leftover(f, step);
      }
    } catch (err) {
      // the rest of this batch's releases only close: the copy is abandoned
      this.building.releases.unshift(...b.releases.map((r) => ({ close: r.close })));
      throw err;
    }
    this.runReleases(b);
  }

  private runReleases(b: Batch): void {
    this.held -= b.releases.length;
    for (let i = 0; i < b.releases.length; i++) {
      const r = b.releases[i]!;
      try {
        r.done?.();
      } catch (err) {
        // this one and the rest still close (abort() runs the closes left in `building`)
        this.building.releases.unshift(...b.releases.slice(i).map((x) => ({ close: x.close })));
        throw err;
      }
      r.close();
    }
  }
}
