/**
 * Streaming ingest for the content store (ContentStore.ingest): bytes are
 * hashed and counted on their way into a temp file in ingest/, optionally
 * teed to a consumer, and the store commits the file only when size and
 * digest match. A module of its own so that node:stream and node:crypto load
 * only for commands that ingest.
 */
import fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsrunError } from '../util/errors.js';
import { algorithm } from '../oci/digest.js';
import type { BlobInfo, ContentStore, Expect } from './store.js';

/** Counts and hashes bytes going through, failing as soon as a size bound is passed. */
class HashCounter extends Transform {
  readonly hash: Hash;
  size = 0;
  constructor(
    alg: string,
    private readonly limit: number,
    private readonly what: string,
  ) {
    super();
    this.hash = createHash(alg);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      cb(new TsrunError('TOO_LARGE', `${this.what} is larger than its expected ${this.limit} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

export async function ingestStream(store: ContentStore, input: Readable, expect: Expect, tee?: (copy: Readable) => Promise<unknown>): Promise<BlobInfo> {
  const what = expect.what ?? (expect.digest ? `blob ${expect.digest}` : 'blob');
  const alg = expect.digest ? algorithm(expect.digest) : 'sha256';
  const limit = expect.size ?? expect.maxSize ?? Number.MAX_SAFE_INTEGER;
  const counter = new HashCounter(alg, limit, what);
  const tmp = store.tempPath();
  const out = fs.createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 });
  try {
    if (tee) {
      const copy = new PassThrough({ highWaterMark: 1 << 20 });
      const toFile = new PassThrough({ highWaterMark: 1 << 20 });
      counter.on('data', (c: Buffer) => {
        const a = copy.write(c);
        const b = toFile.write(c);
        if (!a || !b) {
          counter.pause();
          let waiting = (a ? 0 : 1) + (b ? 0 : 1);
          const resume = () => {
            if (--waiting === 0) counter.resume();
          };
          if (!a) copy.once('drain', resume);
          if (!b) toFile.once('drain', resume);
        }
      });
      counter.on('end', () => {
        copy.end();
        toFile.end();
      });
      // the consumer may stop reading before the input ends; an error after that must not be unhandled
      copy.on('error', () => {});
      const fail = (err: Error) => {
        copy.destroy(err);
        toFile.destroy(err);
      };
      counter.on('error', fail);
      input.on('error', fail);
      input.pipe(counter);
      const consumer = tee(copy).then(() => copy.resume()); // drain what the consumer left unread
      await Promise.all([pipeline(toFile, out), consumer]);
    } else {
      await pipeline(input, counter, out);
    }
    return store.commitTemp(tmp, `${alg}:${counter.hash.digest('hex')}`, counter.size, { ...expect, what });
  } catch (err) {
    input.destroy();
    // the write stream opens its file asynchronously: wait for it to close, or the
    // open could land after the rm and leave an empty temp file behind
    if (!out.closed) await new Promise<void>((r) => out.once('close', () => r()).destroy());
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
