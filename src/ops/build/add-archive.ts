/**
 * ADD's local archives: a source file is unpacked into the destination when its bytes are a
 * tar, plain or compressed with gzip, bzip2, xz or zstd, the compression told by its magic
 * bytes and the tar by a valid first header, as docker's archive.IsArchivePath does (the
 * file name does not matter). Anything else is copied as a file. gzip goes through
 * node:zlib; bzip2, xz and zstd through the system's `bzip2 -dc`, `xz -dc`, `zstd -dc`
 * (Debian packages bzip2, xz-utils, zstd). The tar is unpacked by the layer applier in
 * 'apply' mode: every member confined to the destination, sizes and counts bounded.
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { applyLayer } from '../../diff/apply.js';
import { TsrunError } from '../../util/errors.js';

export type ArchiveCompression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const TOOLS: Record<'bzip2' | 'xz' | 'zstd', string> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

export function compressionOf(head: Buffer): ArchiveCompression {
  const at = (...b: number[]) => b.every((x, i) => head[i] === x);
  if (at(0x1f, 0x8b)) return 'gzip';
  if (at(0x42, 0x5a, 0x68)) return 'bzip2'; // "BZh"
  if (at(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (at(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  return 'none';
}

/** A tar header block: its checksum field matches the sum of its bytes (the field counted as spaces). */
export function isTarHeader(b: Buffer): boolean {
  if (b.length < 512 || b.subarray(0, 512).every((x) => x === 0)) return false;
  const field = b.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum === parseInt(field, 8);
}

/** The file's bytes, decompressed. */
function decompressed(file: string, c: ArchiveCompression): Readable {
  const src = fs.createReadStream(file);
  if (c === 'none') return src;
  if (c === 'gzip') {
    const gz = zlib.createGunzip();
    src.on('error', (e) => gz.destroy(e));
    return src.pipe(gz);
  }
  const child = spawn(TOOLS[c], ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  src.on('error', () => child.kill('SIGKILL'));
  child.stdin!.on('error', () => {}); // the reader may stop early (detection reads one block)
  src.pipe(child.stdin!);
  const out = child.stdout!;
  const failed = (msg: string) => new TsrunError('INVALID_ARCHIVE', `ADD: ${file.split('/').pop()}: ${msg}`, { hint: `install ${TOOLS[c]} (scripts/setup.sh) or check the archive` });
  child.on('error', (e) => out.destroy(failed(`cannot run ${TOOLS[c]}: ${e.message}`)));
  child.on('close', (code, sig) => {
    if (code !== 0 && sig === null) out.destroy(failed(stderr.trim().split('\n').pop() || `${TOOLS[c]} exited ${code}`));
  });
  const stop = out.destroy.bind(out);
  out.destroy = (err?: Error) => {
    child.kill('SIGKILL');
    src.destroy();
    return stop(err);
  };
  return out;
}

async function firstBlock(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      chunks.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= 512) break;
    }
  } catch {
    /* not decompressible: not an archive */
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** The compression of `file` when it is a tar archive (plain or compressed), or undefined. */
export async function archiveCompression(file: string): Promise<ArchiveCompression | undefined> {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(512);
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 512, 0);
  } finally {
    fs.closeSync(fd);
  }
  const c = compressionOf(head.subarray(0, n));
  const block = c === 'none' ? head.subarray(0, n) : await firstBlock(decompressed(file, c));
  return isTarHeader(block) ? c : undefined;
}

/** Unpack the archive into `dest` (an existing directory); members keep their owners, modes and times. */
export async function unpackArchive(file: string, c: ArchiveCompression, dest: string): Promise<void> {
  await applyLayer(decompressed(file, c), dest, { whiteouts: 'apply' });
}
