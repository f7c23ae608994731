/**
 * Content store: blobs (manifests, configs, layer tars) by digest, under
 * ROOT/content/blobs/sha256/HEX.
 *
 * Lifecycle of a blob: ingest (stream into ingest/ while hashing) → verify
 * size and digest against what the caller expected → rename into blobs/.
 * A blob in blobs/ is therefore always complete and correct; an ingest killed
 * half-way leaves only a temp file in ingest/, swept by `sweepIngest`.
 * Blobs are immutable; `delete` is called only by garbage collection, under
 * the store lock, for blobs no image references.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { TsrunError, hasCode } from '../util/errors.js';
import { algorithm, checkDigest, encoded } from '../oci/digest.js';
import { fsyncDir, readdirIfExists } from '../util/atomic.js';
import { crypto, randomHex } from '../util/builtins.js';
import { removeTreeTolerant } from '../util/rmtree.js';

export interface Expect {
  /** When given, the content must hash to this digest. */
  digest?: string;
  /** When given, the content must be exactly this many bytes. */
  size?: number;
  /** Refuse content larger than this (bounds untrusted input). */
  maxSize?: number;
  /** Named in error messages, e.g. "layer sha256:ab… of docker.io/library/ubuntu". */
  what?: string;
}

export interface BlobInfo {
  digest: string;
  size: number;
}

export class ContentStore {
  readonly dir: string;
  private readonly ingestDir: string;

  /** create: make the store's dirs (see context.ts: only commands that may start a store do). */
  constructor(root: string, create = true) {
    this.dir = path.join(root, 'content');
    this.ingestDir = path.join(this.dir, 'ingest');
    if (!create) return;
    fs.mkdirSync(path.join(this.dir, 'blobs', 'sha256'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'blobs', 'sha512'), { recursive: true });
    fs.mkdirSync(this.ingestDir, { recursive: true });
  }

  blobPath(digest: string): string {
    checkDigest(digest);
    return path.join(this.dir, 'blobs', algorithm(digest), encoded(digest));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** Size of a stored blob, or undefined. */
  size(digest: string): number | undefined {
    try {
      return fs.statSync(this.blobPath(digest)).size;
    } catch (err) {
      if (hasCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  /** Read a whole blob (for manifests and configs), refusing ones above maxSize. */
  readBytes(digest: string, maxSize = 16 * 1024 * 1024): Buffer {
    const p = this.blobPath(digest);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      if (hasCode(err, 'ENOENT')) throw new TsrunError('NOT_FOUND', `blob ${digest} is not in the content store`);
      throw err;
    }
    if (st.size > maxSize) throw new TsrunError('TOO_LARGE', `blob ${digest} is ${st.size} bytes, more than ${maxSize}`);
    return fs.readFileSync(p);
  }

  readJson<T>(digest: string, maxSize?: number): T {
    const buf = this.readBytes(digest, maxSize);
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch {
      throw new TsrunError('INVALID_ARCHIVE', `blob ${digest} is not valid JSON`);
    }
  }

  open(digest: string): fs.ReadStream {
    return fs.createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 });
  }

  /** Store bytes already in memory; returns their digest. Idempotent. */
  putBytes(data: Buffer | string, expect: Expect = {}): BlobInfo {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const alg = expect.digest ? algorithm(expect.digest) : 'sha256';
    const digest = `${alg}:${crypto().createHash(alg).update(buf).digest('hex')}`;
    this.check(digest, buf.length, expect);
    const target = this.blobPath(digest);
    if (!fs.existsSync(target)) {
      const tmp = this.tempPath();
      fs.writeFileSync(tmp, buf);
      const fd = fs.openSync(tmp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, target);
      fsyncDir(path.dirname(target));
    }
    return { digest, size: buf.length };
  }

  putJson(value: unknown): BlobInfo {
    return this.putBytes(JSON.stringify(value));
  }

  /**
   * Stream content into the store, hashing as it goes. With `tee`, the same
   * bytes are also handed to a consumer (e.g. decompress + unpack) so a layer
   * is stored and unpacked in one pass; the blob is committed only when both
   * succeed and the digest matches. The streaming code (node:stream, hashing)
   * is in ingest.ts, loaded only by commands that ingest.
   */
  async ingest(input: Readable, expect: Expect = {}, tee?: (copy: Readable) => Promise<unknown>): Promise<BlobInfo> {
    const { ingestStream } = await import('./ingest.js');
    return ingestStream(this, input, expect, tee);
  }

  /**
   * For ingest.ts: check a finished temp file's digest and size against
   * `expect`, then sync it and rename it into blobs/.
   */
  commitTemp(tmp: string, digest: string, size: number, expect: Expect): BlobInfo {
    this.check(digest, size, expect);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const target = this.blobPath(digest);
    fs.renameSync(tmp, target);
    fsyncDir(path.dirname(target));
    return { digest, size };
  }

  /** Copy a file that is already on disk into the store (hard link when possible). */
  async putFile(file: string, expect: Expect = {}): Promise<BlobInfo> {
    return this.ingest(fs.createReadStream(file, { highWaterMark: 1 << 20 }), expect);
  }

  /**
   * Adopt a temp file whose digest the caller has just computed while writing
   * it. The file is synced before the rename (cheap when the caller already
   * synced it), so a blob under its digest is never one a power cut emptied.
   */
  adopt(tmpFile: string, digest: string): void {
    const target = this.blobPath(digest);
    if (fs.existsSync(target)) {
      fs.rmSync(tmpFile, { force: true });
      return;
    }
    const fd = fs.openSync(tmpFile, 'r');
    try {
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmpFile, target);
    fsyncDir(path.dirname(target));
  }

  /** A fresh temp path on the same filesystem as the blobs, for callers that write blobs themselves. */
  tempPath(): string {
    return path.join(this.ingestDir, `${process.pid}-${randomHex(6)}`);
  }

  delete(digest: string): void {
    fs.rmSync(this.blobPath(digest), { force: true });
  }

  list(): string[] {
    const out: string[] = [];
    for (const alg of ['sha256', 'sha512']) {
      for (const name of readdirIfExists(path.join(this.dir, 'blobs', alg))) out.push(`${alg}:${name}`);
    }
    return out;
  }

  /** Remove temp files left by ingests whose process is gone (killed with SIGKILL). */
  sweepIngest(): void {
    for (const name of readdirIfExists(this.ingestDir)) {
      const pid = Number(name.split('-')[0]);
      if (pid && pid !== process.pid && !pidAlive(pid)) removeTreeTolerant(path.join(this.ingestDir, name));
    }
  }

  private check(digest: string, size: number, expect: Expect): void {
    const what = expect.what ?? (expect.digest ? `blob ${expect.digest}` : 'blob');
    if (expect.size !== undefined && size !== expect.size) {
      throw new TsrunError('DIGEST_MISMATCH', `${what}: size ${size} does not match the expected ${expect.size}`, {
        hint: 'the content is corrupt or was tampered with; nothing was stored',
      });
    }
    if (expect.digest && digest !== expect.digest) {
      throw new TsrunError('DIGEST_MISMATCH', `${what}: content digest ${digest} does not match the expected ${expect.digest}`, {
        hint: 'the content is corrupt or was tampered with; nothing was stored',
      });
    }
    if (expect.maxSize !== undefined && size > expect.maxSize) {
      throw new TsrunError('TOO_LARGE', `${what} is ${size} bytes, more than the limit of ${expect.maxSize}`);
    }
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return hasCode(err, 'EPERM');
  }
}
