/**
 * Parallel gzip for push: the blob is cut into 4 MiB pieces, each compressed
 * as its own gzip member on libuv's thread pool (zlib.gzip is asynchronous),
 * and the members are written in order. A concatenation of gzip members is a
 * valid gzip stream (RFC 1952 §2.2) that gunzip, Go's gzip.Reader (docker,
 * podman, skopeo, distribution) and zlib read as one; the cost is a few
 * bytes and a little ratio per 4 MiB. This is how pigz/pgzip use every core.
 *
 * Each member is made by libdeflate through the addon (gzipDeflate, on the
 * thread pool) when it is there: at level 6 it costs about half the CPU of
 * zlib's, and push is CPU-bound in gzip. node:zlib is the fallback (an addon
 * built before gzipDeflate existed, or none at all).
 */
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { native } from '../native.js';

const zlibGzip = promisify(zlib.gzip);
type GzipPiece = (piece: Buffer, level: number) => Promise<Buffer>;

/** The addon's libdeflate gzip when it has one, else node:zlib's (same output format, more CPU). */
export function pieceCompressor(): GzipPiece {
  try {
    const fn = native().gzipDeflate;
    if (typeof fn === 'function') return (piece, level) => fn(piece, level);
  } catch {
    /* no addon: zlib below */
  }
  return (piece, level) => zlibGzip(piece, { level });
}
const PIECE = 4 * 1024 * 1024;

const readAt = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => fs.read(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

/** A stream of the gzip of `file`, compressed with up to `parallel` pieces in flight. */
export function gzipFileParallel(
  file: string,
  level = 6,
  parallel = Math.max(2, os.availableParallelism?.() ?? os.cpus().length),
  gzip: GzipPiece = pieceCompressor(),
): Readable {
  let fd: number | undefined;
  let offset = 0;
  let eof = false;
  const inflight: { input: Buffer; member: Promise<Buffer> }[] = [];
  // input buffers come back once their member is done: `parallel` of them in all,
  // instead of 4 MiB of fresh garbage per piece
  const spare: Buffer[] = [];
  const readPiece = async (): Promise<Buffer | undefined> => {
    if (eof) return undefined;
    fd ??= fs.openSync(file, 'r');
    const buf = spare.pop() ?? Buffer.allocUnsafe(PIECE);
    let n = 0;
    while (n < PIECE) {
      const bytesRead = await readAt(fd, buf, n, PIECE - n, offset + n);
      if (bytesRead === 0) {
        eof = true;
        break;
      }
      n += bytesRead;
    }
    offset += n;
    if (!n) spare.push(buf);
    return n ? buf.subarray(0, n) : undefined;
  };
  const fill = async () => {
    while (!eof && inflight.length < parallel) {
      const piece = await readPiece();
      if (!piece) break;
      const member = gzip(piece, level);
      member.catch(() => {}); // awaited in order below; a later piece failing first must not be an unhandled rejection
      inflight.push({ input: piece, member });
    }
  };
  async function* members(): AsyncGenerator<Buffer> {
    try {
      await fill();
      if (!inflight.length) {
        yield await gzip(Buffer.alloc(0), level); // empty input is still a valid gzip stream
        return;
      }
      while (inflight.length) {
        const { input, member } = inflight.shift()!;
        const out = await member;
        spare.push(Buffer.from(input.buffer, input.byteOffset, PIECE));
        await fill();
        yield out;
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return Readable.from(members(), { objectMode: false });
}
