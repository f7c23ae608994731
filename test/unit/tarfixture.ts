/**
 * Test helper: build a tar Buffer from a table of entries with tar-stream's
 * pack. Beyond what pack writes, it can add raw pax records (binary xattrs
 * such as security.capability, which pack would UTF-8-encode) and raw header
 * blocks (unknown type flags, hostile headers). Names are written as given,
 * `..` and all: the point is to build hostile archives.
 *
 *   const tar = await buildTar([
 *     { name: 'etc/', type: 'dir', mode: 0o755 },
 *     { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' },
 *     { name: 'bin/ping', content: elf, xattrs: { 'security.capability': capBytes } },
 *     { name: 'etc/.wh.shadow' },
 *   ]);
 */
import tar, { type Header } from 'tar-stream';

type PackHeader = Partial<Header> & { name: string };

export type FixtureType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface FixtureEntry {
  name: string;
  /** Default: 'dir' when the name ends with '/', else 'file'. */
  type?: FixtureType;
  content?: string | Buffer;
  /** Permission bits (with setuid/setgid/sticky). Default 0644 files, 0755 dirs. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch or a Date. Default 1_700_000_000. */
  mtime?: number | Date;
  /** Symlink or hardlink target. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as raw pax `SCHILY.xattr.NAME` records (values are bytes, not UTF-8-encoded). */
  xattrs?: Record<string, string | Buffer>;
  /** Extra raw pax records for this entry. */
  pax?: Record<string, string | Buffer>;
  /** Raw bytes put in the archive instead of an entry (e.g. a hand-made header). */
  raw?: Buffer;
}

export const DEFAULT_MTIME = 1_700_000_000;
/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(1024);

const PACK_TYPE: Record<FixtureType, Header['type']> = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  link: 'link',
  char: 'character-device',
  block: 'block-device',
  fifo: 'fifo',
};

function pad512(b: Buffer): Buffer {
  const rem = b.length % 512;
  return rem === 0 ? b : Buffer.concat([b, Buffer.alloc(512 - rem)]);
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/**
 * One raw ustar header block. `typeflag` is the one-character type ('0', 'x', 'S' …).
 * The checksum is computed unless `checksum` is given.
 */
export function rawHeader(h: {
  /** A Buffer name is written as those bytes (names that are not UTF-8). */
  name: string | Buffer;
  typeflag: string;
  size?: number;
  mode?: number;
  linkname?: string | Buffer;
  checksum?: number;
  /** The magic: ustar (default), gnu ('ustar  \0') or v7 (none). */
  format?: 'ustar' | 'gnu' | 'v7';
  /** Write more fields (prefix, GNU sparse map …) before the checksum is computed. */
  fill?: (b: Buffer) => void;
}): Buffer {
  const b = Buffer.alloc(512);
  if (Buffer.isBuffer(h.name)) h.name.copy(b, 0, 0, Math.min(100, h.name.length));
  else b.write(h.name, 0, 100, 'utf8');
  b.write(octal(h.mode ?? 0o644, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  b.write(octal(h.size ?? 0, 12), 124, 'latin1');
  b.write(octal(DEFAULT_MTIME, 12), 136, 'latin1');
  b.write(h.typeflag, 156, 1, 'latin1');
  if (Buffer.isBuffer(h.linkname)) h.linkname.copy(b, 157, 0, Math.min(100, h.linkname.length));
  else if (h.linkname) b.write(h.linkname, 157, 100, 'utf8');
  if ((h.format ?? 'ustar') === 'ustar') b.write('ustar\0' + '00', 257, 'latin1');
  else if (h.format === 'gnu') b.write('ustar  \0', 257, 'latin1');
  h.fill?.(b);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(octal(h.checksum ?? sum, 7) + ' ', 148, 'latin1');
  return b;
}

/** A pax extended header ('x', or 'g' for a global one) with raw records, padded to whole blocks. */
export function paxHeader(records: Record<string, string | Buffer>, typeflag: 'x' | 'g' = 'x'): Buffer {
  const bodies: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const v = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    const rest = Buffer.byteLength(` ${key}=`) + v.length + 1;
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    bodies.push(Buffer.concat([Buffer.from(`${len} ${key}=`), v, Buffer.from('\n')]));
  }
  const body = Buffer.concat(bodies);
  return Buffer.concat([rawHeader({ name: 'PaxHeaders/entry', typeflag, size: body.length }), pad512(body)]);
}

/** A raw entry: header then data padded to whole blocks. */
export function rawEntry(h: Parameters<typeof rawHeader>[0], data: Buffer | string = ''): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([rawHeader({ size: d.length, ...h }), pad512(d)]);
}

/** A GNU long name ('L') or long link ('K') header with its body. */
export function gnuLong(typeflag: 'L' | 'K', name: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.isBuffer(name) ? name : Buffer.from(name), Buffer.alloc(1)]);
  return rawEntry({ name: '././@LongLink', typeflag, format: 'gnu' }, body);
}

/** The octal text of a numeric header field. */
export function octalField(n: number, width: number): string {
  return octal(n, width);
}

async function packOne(header: PackHeader, content: Buffer | undefined): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  p.entry(header, content ?? Buffer.alloc(0));
  p.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - TAR_END.length); // drop the end marker: entries are concatenated
}

/** The tar bytes of `entries`, followed by the end marker unless `end` is false. */
export async function buildTar(entries: FixtureEntry[], opts: { end?: boolean } = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.raw) {
      parts.push(e.raw);
      continue;
    }
    const type: FixtureType = e.type ?? (e.name.endsWith('/') ? 'dir' : 'file');
    const content = e.content === undefined ? undefined : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const mtime = e.mtime instanceof Date ? e.mtime : new Date((e.mtime ?? DEFAULT_MTIME) * 1000);
    let name = e.name;
    if (e.xattrs || e.pax) {
      // one pax header carrying path, linkpath and the records (a second one from pack would replace it)
      const records: Record<string, string | Buffer> = { path: e.name };
      if (e.linkname) records.linkpath = e.linkname;
      for (const [k, v] of Object.entries(e.xattrs ?? {})) records[`SCHILY.xattr.${k}`] = v;
      Object.assign(records, e.pax ?? {});
      parts.push(paxHeader(records));
      if (Buffer.byteLength(name) > 100) name = 'long-name-in-pax';
    }
    const header: PackHeader = {
      name,
      type: PACK_TYPE[type],
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime,
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
    };
    if (e.xattrs || e.pax) header.linkname = e.linkname && Buffer.byteLength(e.linkname) > 100 ? 'long-link-in-pax' : e.linkname;
    parts.push(await packOne(header, type === 'file' ? content : undefined));
  }
  if (opts.end !== false) parts.push(TAR_END);
  return Buffer.concat(parts);
}
