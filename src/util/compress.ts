/**
 * Layer compression: detect it by magic bytes and undo it as a stream.
 *
 * gzip goes through node:zlib. zstd goes through the system `zstd -dc`
 * (Node 20's zlib has no zstd; the binary is installed by our setup and is
 * fast). Media types are not trusted for this: the bytes decide, so a layer
 * whose media type says gzip but that is plain tar (or the other way round)
 * still unpacks, and its digest is checked elsewhere anyway.
 *
 * Errors: corrupt gzip → INVALID_ARCHIVE 'layer is not valid gzip: …', corrupt
 * zstd → INVALID_ARCHIVE 'layer is not valid zstd: …', no zstd binary →
 * UNSUPPORTED with a hint. Errors of the input stream itself pass through as they are.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import type { Compression } from '../oci/mediatypes.js';
import { TsrunError } from './errors.js';

export type { Compression };

const CHUNK = 64 * 1024;

/** Compression of a blob from its first bytes (at least 4 are needed to see zstd). */
export function detectCompression(buf: Buffer): Compression {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
  if (buf.length >= 4 && buf[0] === 0x28 && buf[1] === 0xb5 && buf[2] === 0x2f && buf[3] === 0xfd) return 'zstd';
  return 'none';
}

/** Read at least n bytes (fewer at EOF) from the iterator; returns them and whether the input ended. */
async function readHead(it: AsyncIterator<Buffer>, n: number): Promise<{ head: Buffer; done: boolean }> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) return { head: Buffer.concat(chunks), done: true };
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    chunks.push(c);
    len += c.length;
  }
  return { head: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), done: false };
}

async function* replay(head: Buffer, done: boolean, it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function gunzipError(err: unknown): unknown {
  if (!isZlibError(err)) return err;
  return new TsrunError('INVALID_ARCHIVE', `layer is not valid gzip: ${(err as Error).message}`, {
    hint: 'the blob is corrupt; pull or save it again',
    cause: err,
  });
}

async function* mapErrors(s: Readable, map: (err: unknown) => unknown): AsyncGenerator<Buffer> {
  try {
    for await (const c of s) yield c as Buffer;
  } catch (err) {
    throw map(err);
  }
}

function gunzipStream(src: Readable): Readable {
  const gz = zlib.createGunzip({ chunkSize: CHUNK });
  pipeline(src, gz, () => {}); // errors surface on gz, mapped below
  return Readable.from(mapErrors(gz, gunzipError), { objectMode: false });
}

async function zstdStream(src: Readable): Promise<Readable> {
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    await once(child, 'spawn');
  } catch (err) {
    src.destroy();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TsrunError('UNSUPPORTED', 'cannot decompress a zstd layer: the zstd program is not installed', {
        hint: 'install zstd (apt-get install zstd)',
        cause: err,
      });
    }
    throw new TsrunError('SYSCALL', `cannot start zstd: ${(err as Error).message}`, { cause: err });
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let srcError: unknown;
  pipeline(src, child.stdin!, (err) => {
    // EPIPE: zstd stopped reading (it failed, or the consumer went away); its exit status tells
    if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') {
      srcError = err;
      child.kill('SIGKILL');
    }
  });
  async function* out(): AsyncGenerator<Buffer> {
    let finished = false;
    try {
      for await (const c of child.stdout!) yield c as Buffer;
      const code = await closed;
      finished = true;
      if (srcError) throw srcError;
      if (code !== 0) {
        const detail = stderr.trim().split('\n').pop() || `zstd exited with status ${code}`;
        throw new TsrunError('INVALID_ARCHIVE', `layer is not valid zstd: ${detail.replace(/^zstd: (\/\*stdin\*\\: )?/, '')}`, {
          hint: 'the blob is corrupt; pull or save it again',
        });
      }
    } finally {
      if (!finished) {
        child.kill('SIGKILL');
        src.destroy();
      }
    }
  }
  return Readable.from(out(), { objectMode: false });
}

/**
 * Peek at the first bytes of `input` (without losing them) and return a
 * stream of its decompressed bytes. Destroying the returned stream destroys
 * the input (and stops zstd).
 */
export async function openDecompressed(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const { head, done } = await readHead(it, 4);
  const compression = detectCompression(head);
  const src = Readable.from(replay(head, done, it), { objectMode: false });
  switch (compression) {
    case 'none':
      return { stream: src, compression };
    case 'gzip':
      return { stream: gunzipStream(src), compression };
    case 'zstd':
      return { stream: await zstdStream(src), compression };
  }
}

/** gzip `stream` at `level` (1 fastest … 9 smallest); errors of the input end the output with that error. */
export function compressGzip(stream: Readable, level = 6): Readable {
  const gz = zlib.createGzip({ level, chunkSize: CHUNK });
  pipeline(stream, gz, () => {});
  return gz;
}
