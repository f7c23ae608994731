/**
 * A minimal deterministic tar writer for image archives: ustar headers,
 * fixed mtime/owner, members written in the order given (callers sort).
 * Archive member names are ours (blobs/sha256/HEX, manifest.json …), so
 * they always fit ustar's 100-byte name field; sizes past 8 GiB use GNU
 * base-256, which Go's archive/tar and GNU tar read.
 */
import fs from 'node:fs';

const BLOCK = 512;

function writeOctal(b: Buffer, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) {
    // base-256: first byte 0x80, big-endian value in the rest
    b[off] = 0x80;
    let x = v;
    for (let i = off + len - 1; i > off; i--) {
      b[i] = x % 256;
      x = Math.floor(x / 256);
    }
    return;
  }
  b.write(s, off, len - 1, 'ascii');
  b[off + len - 1] = 0;
}

export function tarHeader(name: string, size: number, type: 'file' | 'dir' = 'file', mode = type === 'dir' ? 0o755 : 0o644, mtime = 0): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`internal: archive member name too long: ${name}`);
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, mode);
  writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, 0);
  writeOctal(b, 124, 12, type === 'dir' ? 0 : size);
  writeOctal(b, 136, 12, mtime);
  b.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  b[156] = type === 'dir' ? 0x35 : 0x30;
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

function padding(size: number): Buffer | undefined {
  const r = size % BLOCK;
  return r ? Buffer.alloc(BLOCK - r) : undefined;
}

export function* dirMember(name: string): Generator<Buffer> {
  yield tarHeader(name.endsWith('/') ? name : `${name}/`, 0, 'dir');
}

export function* bytesMember(name: string, data: Buffer): Generator<Buffer> {
  yield tarHeader(name, data.length);
  yield data;
  const p = padding(data.length);
  if (p) yield p;
}

/** A member whose bytes come from a file; the file must be exactly `size` bytes. */
export async function* fileMember(name: string, file: string, size: number): AsyncGenerator<Buffer> {
  yield tarHeader(name, size);
  let n = 0;
  for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    n += (c as Buffer).length;
    yield c as Buffer;
  }
  if (n !== size) throw new Error(`internal: ${file} changed size while being archived (${n} != ${size})`);
  const p = padding(size);
  if (p) yield p;
}

export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}
