/**
 * Layer store: one unpacked, read-only directory per layer, keyed by chain ID,
 * under ROOT/layers/HEX/ (HEX = the chain ID's hex). Each holds
 *   diff/        the layer's files, whiteouts in overlay form (char 0/0, opaque xattr)
 *   layer.json   { chainId, diffId, parent, size }
 *
 * Lifecycle: `ensure` takes a per-layer flock, and if the layer is not there
 * yet unpacks it into ROOT/layers/.tmp/PID-RAND/ and renames that into place.
 * So a layer directory either is complete or does not exist, two processes
 * that race unpack it once, and a SIGKILL leaves only a temp dir that
 * `sweep` removes.
 *
 * A layer can also be *registered* before it is unpacked (`register`): its
 * layer.json is in place but diff/ is not, because its blob is already in the
 * content store and unpacking can wait for the first container that needs
 * it. Commit does this, so it costs one pass over the upper dir (tar + hash)
 * instead of two; `ensure` unpacks diff/ later and renames it into place, so
 * diff/ too is either complete or absent. Layers are never modified once in place; a layer is
 * removed by `gc` only when no image and no container uses it (the caller
 * computes that set under the store lock: reference counts are derived, not
 * stored, so a crash cannot leave them wrong).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError, hasCode } from '../util/errors.js';
import { encoded, checkDigest } from '../oci/digest.js';
import { fsyncDir, readdirIfExists, writeJsonAtomic } from '../util/atomic.js';
import { withLock } from '../util/lock.js';
import { pidAlive } from '../content/store.js';
import { randomHex } from '../util/builtins.js';
import { removeTreeTolerant } from '../util/rmtree.js';

export interface LayerInfo {
  chainId: string;
  diffId: string;
  /** Chain ID of the layer below, or null for a base layer. */
  parent: string | null;
  /** Bytes of file content in the layer (uncompressed). */
  size: number;
}

export class LayerStore {
  readonly dir: string;
  private readonly tmpDir: string;
  private readonly lockDir: string;
  /**
   * Entries gc and sweep could not delete (a mount point, an immutable file),
   * for the caller to report; they stay under .tmp and never block the rest.
   */
  readonly leftovers: { path: string; error: NodeJS.ErrnoException }[] = [];
  /** Layers this process is unpacking now (a pull unpacks several at once): what lowerDirs waits for. */
  private readonly inflight = new Map<string, Promise<unknown>>();

  /** create: make the store's dirs (see context.ts: only commands that may start a store do). */
  constructor(root: string, create = true) {
    this.dir = path.join(root, 'layers');
    this.tmpDir = path.join(this.dir, '.tmp');
    this.lockDir = path.join(this.dir, '.locks');
    if (!create) return;
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.mkdirSync(this.lockDir, { recursive: true });
  }

  private layerDir(chainId: string): string {
    return path.join(this.dir, encoded(checkDigest(chainId, 'chain ID')));
  }

  /** The directory to use as an overlay lower dir. */
  diffDir(chainId: string): string {
    return path.join(this.layerDir(chainId), 'diff');
  }

  /** True when the layer is unpacked and ready to be a lower dir. */
  has(chainId: string): boolean {
    return fs.existsSync(path.join(this.layerDir(chainId), 'layer.json')) && fs.existsSync(this.diffDir(chainId));
  }

  /** True when the layer is known (registered or unpacked). */
  known(chainId: string): boolean {
    return fs.existsSync(path.join(this.layerDir(chainId), 'layer.json'));
  }

  info(chainId: string): LayerInfo {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.layerDir(chainId), 'layer.json'), 'utf8')) as LayerInfo;
    } catch (err) {
      if (hasCode(err, 'ENOENT')) throw new TsrunError('NOT_FOUND', `layer ${chainId} is not in the layer store`, { hint: 'pull or load the image again' });
      throw err;
    }
  }

  /**
   * Make sure the layer exists. `fill` unpacks it into an empty directory and
   * returns the content size; it is called at most once across racing
   * processes. Throws what `fill` throws, leaving nothing behind.
   */
  async ensure(
    chainId: string,
    parent: string | null,
    diffId: string,
    fill: (diffDir: string) => Promise<{ size: number }>,
  ): Promise<LayerInfo> {
    if (this.has(chainId)) return this.info(chainId);
    const p = this.ensureLocked(chainId, parent, diffId, fill);
    this.inflight.set(chainId, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(chainId);
    }
  }

  /**
   * The unpacked dirs of `parent` and every layer below it, topmost first
   * (the lower dirs a layer applied on top of `parent` sees). A layer this
   * process is still unpacking is waited for; one that is neither here nor
   * on its way within `timeoutMs` is an error.
   */
  async lowerDirs(parent: string | null, timeoutMs = 10 * 60_000): Promise<string[]> {
    const out: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (let c = parent; c !== null; c = this.info(c).parent) {
      while (!this.has(c)) {
        const p = this.inflight.get(c);
        if (p) {
          // its own failure is reported by whoever unpacks it; here it only means the layer is missing
          await p.catch(() => undefined);
          if (!this.has(c)) break;
          continue;
        }
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50)); // queued behind other downloads of the same pull
      }
      if (!this.has(c)) {
        throw new TsrunError('NOT_FOUND', `layer ${c} is not unpacked`, { hint: 'a layer has a hardlink into the layers below it, and one of them is missing; pull the image again' });
      }
      out.push(this.diffDir(c));
    }
    return out;
  }

  private async ensureLocked(
    chainId: string,
    parent: string | null,
    diffId: string,
    fill: (diffDir: string) => Promise<{ size: number }>,
  ): Promise<LayerInfo> {
    return withLock(path.join(this.lockDir, encoded(chainId)), async () => {
      if (this.has(chainId)) return this.info(chainId);
      if (this.known(chainId)) return this.unpackRegistered(chainId, fill);
      const tmp = this.makeTemp();
      try {
        const diff = path.join(tmp, 'diff');
        fs.mkdirSync(diff, { mode: 0o755 });
        const { size } = await fill(diff);
        const info: LayerInfo = { chainId, diffId, parent, size };
        writeJsonAtomic(path.join(tmp, 'layer.json'), info);
        fs.renameSync(tmp, this.layerDir(chainId));
        fsyncDir(this.dir);
        return info;
      } catch (err) {
        removeTreeTolerant(tmp); // what it cannot remove stays in .tmp for a later sweep
        throw err;
      }
    });
  }

  /** Unpack a registered layer's diff/ (caller holds the layer's lock). */
  private async unpackRegistered(chainId: string, fill: (diffDir: string) => Promise<{ size: number }>): Promise<LayerInfo> {
    const tmp = this.makeTemp();
    try {
      const diff = path.join(tmp, 'diff');
      fs.mkdirSync(diff, { mode: 0o755 });
      await fill(diff);
      fs.renameSync(diff, this.diffDir(chainId));
      fsyncDir(this.layerDir(chainId));
      return this.info(chainId);
    } finally {
      removeTreeTolerant(tmp); // what it cannot remove stays in .tmp for a later sweep
    }
  }

  /**
   * Record a layer whose blob is in the content store without unpacking it;
   * `ensure` unpacks it when a container first needs it.
   */
  register(info: LayerInfo): LayerInfo {
    if (this.known(info.chainId)) return this.info(info.chainId);
    return this.place(this.makeTemp(), info);
  }

  /**
   * Put a directory that the caller already filled (e.g. commit copying an
   * upper dir) into place as a layer. `dir` must be on the same filesystem;
   * it comes from `makeTemp()` and holds diff/.
   */
  adopt(tmp: string, info: LayerInfo): LayerInfo {
    if (this.has(info.chainId)) {
      removeTreeTolerant(tmp); // what it cannot remove stays in .tmp for a later sweep
      return this.info(info.chainId);
    }
    return this.place(tmp, info);
  }

  /** Write layer.json into a temp dir and rename it into place; a racing process that won keeps its layer. */
  private place(tmp: string, info: LayerInfo): LayerInfo {
    writeJsonAtomic(path.join(tmp, 'layer.json'), info);
    try {
      fs.renameSync(tmp, this.layerDir(info.chainId));
    } catch (err) {
      removeTreeTolerant(tmp); // what it cannot remove stays in .tmp for a later sweep
      if (hasCode(err, 'ENOTEMPTY') || hasCode(err, 'EEXIST')) return this.info(info.chainId);
      throw err;
    }
    fsyncDir(this.dir);
    return info;
  }

  /** A fresh temp directory inside the store (same filesystem, so rename works). */
  makeTemp(): string {
    const tmp = path.join(this.tmpDir, `${process.pid}-${randomHex(6)}`);
    fs.mkdirSync(tmp, { mode: 0o700 });
    return tmp;
  }

  list(): string[] {
    return readdirIfExists(this.dir)
      .filter((n) => /^[a-f0-9]{64}$/.test(n) && fs.existsSync(path.join(this.dir, n, 'layer.json')))
      .map((n) => `sha256:${n}`);
  }

  /** Remove every layer not in `keep`. Call only under the store lock. Returns the removed chain IDs. */
  gc(keep: ReadonlySet<string>): string[] {
    const removed: string[] = [];
    for (const chainId of this.list()) {
      if (keep.has(chainId)) continue;
      // rename first so a half-deleted layer is never visible under its name
      const doomed = path.join(this.tmpDir, `${process.pid}-rm-${encoded(chainId)}`);
      try {
        fs.renameSync(this.layerDir(chainId), doomed);
      } catch (err) {
        if (hasCode(err, 'ENOENT')) continue; // removed meanwhile
        this.leftovers.push({ path: this.layerDir(chainId), error: err as NodeJS.ErrnoException });
        continue; // one layer that cannot go does not keep the others
      }
      removed.push(chainId);
      // the layer is gone from the store; what cannot be deleted stays in .tmp, swept by later commands
      this.leftovers.push(...removeTreeTolerant(doomed).failed);
    }
    return removed;
  }

  /** Remove temp dirs of processes that died mid-unpack or mid-removal; what cannot be removed is left for the next sweep. */
  sweep(): void {
    for (const name of readdirIfExists(this.tmpDir)) {
      const pid = Number(name.split('-')[0]);
      if (pid && pid !== process.pid && !pidAlive(pid)) this.leftovers.push(...removeTreeTolerant(path.join(this.tmpDir, name)).failed);
    }
  }
}
