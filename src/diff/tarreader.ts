/**
 * A small synchronous push parser for tar streams (ustar, pax, GNU long
 * names), written for layer apply where every byte is hostile and speed
 * matters. It reads what Go's archive/tar reads, the way it reads it, because
 * layers are written by Go tools and docker is the reference for how they
 * unpack:
 *
 * - pax records keep their values as raw bytes, so binary xattrs such as
 *   security.capability survive (tar-stream decodes them as UTF-8, which is lossy);
 * - a GNU long name (`L`/`K`) wins over a pax `path`/`linkpath`, which wins over the header;
 * - global pax headers (`g`) are read and ignored, as docker ignores them;
 * - header-only types (link, symlink, char, block, dir, fifo) carry no data,
 *   whatever their size field says;
 * - the archive ends at two zero blocks, at one zero block then EOF, or at EOF on
 *   a header boundary; anything after the end marker is ignored;
 * - everything else (GNU sparse, multi-volume, unknown type flags) is refused.
 *
 * Usage: `const r = new TarReader(onEntry); for (chunk) r.push(chunk); r.finish();`
 * onEntry is called synchronously for each entry and returns a sink for the
 * data of regular files (or null to skip it). Errors are TsrunErrors
 * (INVALID_ARCHIVE) thrown out of push()/finish().
 */
import { TsrunError } from '../util/errors.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** Raw member name (after GNU long name / pax path), not cleaned. */
  name: string;
  /** Raw link target for symlinks and hardlinks; '' otherwise. */
  linkname: string;
  type: TarEntryType;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Data size; 0 for every type but 'file'. */
  size: number;
  /** Seconds since the epoch (fractional with pax). */
  mtime: number;
  /** Seconds since the epoch, from pax `atime` when present. */
  atime?: number;
  devmajor: number;
  devminor: number;
  /** `SCHILY.xattr.NAME` pax records: name → raw value bytes. */
  xattrs: Map<string, Buffer>;
  /** Byte offset of the entry's header in the archive, for messages. */
  offset: number;
}

export interface TarDataSink {
  write(chunk: Buffer): void;
  end(): void;
}

const BLOCK = 512;
/** Largest pax or GNU long-name body accepted, as Go's archive/tar (maxSpecialFileSize). */
const MAX_META = 1 << 20;

const enum State {
  Header,
  Data,
  Skip,
  Meta,
  Zero, // one zero block seen
  End,
}

function malformed(msg: string): TsrunError {
  return new TsrunError('INVALID_ARCHIVE', `malformed tar: ${msg}`, { hint: 'the layer or archive is corrupt; pull or save it again' });
}

/** Parse a numeric header field: octal text (space/NUL padded) or GNU base-256. */
function parseNumeric(b: Buffer, start: number, len: number, field: string, offset: number): number {
  const first = b[start]!;
  if (first & 0x80) {
    // base-256: 0x80 positive, 0xff negative (two's complement)
    const neg = first === 0xff;
    if (!neg && first !== 0x80) throw malformed(`invalid ${field} field in header at offset ${offset}`);
    let v = 0;
    for (let i = start + 1; i < start + len; i++) {
      const byte = neg ? 0xff - b[i]! : b[i]!;
      v = v * 256 + byte;
      if (v > Number.MAX_SAFE_INTEGER) throw malformed(`${field} too large in header at offset ${offset}`);
    }
    return neg ? -(v + 1) : v;
  }
  let i = start;
  const end = start + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw malformed(`invalid ${field} field in header at offset ${offset}`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) {
    if (b[i] !== 0x20 && b[i] !== 0) throw malformed(`invalid ${field} field in header at offset ${offset}`);
  }
  return digits === 0 ? 0 : v;
}

function cString(b: Buffer, start: number, len: number): string {
  let end = b.indexOf(0, start);
  if (end < 0 || end > start + len) end = start + len;
  return b.toString('utf8', start, end);
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function typeOf(flag: number): TarEntryType | 'pax' | 'paxGlobal' | 'longName' | 'longLink' | undefined {
  switch (flag) {
    case 0: // '\0' (old regular file)
    case 0x30: // '0'
    case 0x37: // '7' contiguous file: a regular file everywhere that matters
      return 'file';
    case 0x31:
      return 'link';
    case 0x32:
      return 'symlink';
    case 0x33:
      return 'char';
    case 0x34:
      return 'block';
    case 0x35:
      return 'dir';
    case 0x36:
      return 'fifo';
    case 0x78: // 'x'
      return 'pax';
    case 0x67: // 'g'
      return 'paxGlobal';
    case 0x4c: // 'L'
      return 'longName';
    case 0x4b: // 'K'
      return 'longLink';
    default:
      return undefined;
  }
}

function describeFlag(flag: number): string {
  const ch = String.fromCharCode(flag);
  const known: Record<string, string> = { S: 'GNU sparse', D: 'GNU dump dir', M: 'GNU multi-volume', V: 'GNU volume label', N: 'GNU old long name', X: 'Solaris extended header', A: 'Solaris ACL' };
  const printable = flag >= 0x20 && flag < 0x7f;
  return `${printable ? `'${ch}'` : `0x${flag.toString(16)}`}${known[ch] ? ` (${known[ch]})` : ''}`;
}

const DECIMAL = /^[0-9]+$/;
const TIME = /^-?[0-9]+(\.[0-9]+)?$/;

/** Parse pax records `LEN KEY=VALUE\n`, keeping values as raw bytes. */
export function parsePaxRecords(buf: Buffer, offset: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let p = 0;
  while (p < buf.length) {
    const sp = buf.indexOf(0x20, p);
    if (sp < 0 || sp - p > 20) throw malformed(`invalid pax record at offset ${offset}`);
    const lenText = buf.toString('latin1', p, sp);
    if (!DECIMAL.test(lenText)) throw malformed(`invalid pax record length at offset ${offset}`);
    const len = Number(lenText);
    const end = p + len;
    if (len <= sp - p + 1 || end > buf.length || buf[end - 1] !== 0x0a) throw malformed(`invalid pax record at offset ${offset}`);
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) throw malformed(`invalid pax record at offset ${offset}`);
    const key = buf.toString('utf8', sp + 1, eq);
    if (key === '') throw malformed(`empty pax key at offset ${offset}`);
    out.set(key, Buffer.from(buf.subarray(eq + 1, end - 1)));
    p = end;
  }
  return out;
}

export class TarReader {
  private state = State.Header;
  /** Partial header block carried over between chunks. */
  private hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  /** Bytes left in the current data/meta/padding region. */
  private remaining = 0;
  private padding = 0;
  private sink: TarDataSink | null = null;
  private meta: Buffer | null = null;
  private metaFill = 0;
  private metaKind: 'pax' | 'paxGlobal' | 'longName' | 'longLink' = 'pax';
  private pax: Map<string, Buffer> | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  /** Archive offset of the next unread byte. */
  private pos = 0;
  private headerOffset = 0;

  constructor(private readonly onEntry: (entry: TarEntry) => TarDataSink | null) {}

  /** True once the end-of-archive marker was read. */
  get ended(): boolean {
    return this.state === State.End;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      switch (this.state) {
        case State.End:
          this.pos += len - off;
          return;
        case State.Header:
        case State.Zero: {
          if (this.hdrFill === 0) this.headerOffset = this.pos;
          let block: Buffer;
          if (this.hdrFill === 0 && len - off >= BLOCK) {
            block = chunk.subarray(off, off + BLOCK);
            off += BLOCK;
            this.pos += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.hdrFill, len - off);
            chunk.copy(this.hdr, this.hdrFill, off, off + n);
            this.hdrFill += n;
            off += n;
            this.pos += n;
            if (this.hdrFill < BLOCK) continue;
            block = this.hdr;
            this.hdrFill = 0;
          }
          this.onBlock(block);
          break;
        }
        case State.Data: {
          const n = Math.min(this.remaining, len - off);
          if (this.sink) this.sink.write(chunk.subarray(off, off + n));
          off += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            const sink = this.sink;
            this.sink = null;
            this.toSkip(this.padding);
            sink?.end();
          }
          break;
        }
        case State.Meta: {
          const n = Math.min(this.remaining, len - off);
          chunk.copy(this.meta!, this.metaFill, off, off + n);
          this.metaFill += n;
          off += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.onMeta();
            this.toSkip(this.padding);
          }
          break;
        }
        case State.Skip: {
          const n = Math.min(this.remaining, len - off);
          off += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.Header;
          break;
        }
      }
    }
  }

  /** Call at EOF: throws when the archive stops inside an entry. */
  finish(): void {
    if (this.state === State.End) return;
    if (this.state === State.Zero && this.hdr.subarray(0, this.hdrFill).every((c) => c === 0)) return;
    if (this.state === State.Header && this.hdrFill === 0 && !this.pax && this.longName === null && this.longLink === null) {
      return; // EOF on a header boundary, as Go's archive/tar accepts
    }
    throw malformed(`unexpected end of archive at offset ${this.pos}`);
  }

  private toSkip(n: number): void {
    this.remaining = n;
    this.state = n > 0 ? State.Skip : State.Header;
  }

  private onBlock(b: Buffer): void {
    const offset = this.headerOffset;
    if (isZeroBlock(b)) {
      if (this.state === State.Zero) {
        this.state = State.End;
        return;
      }
      if (this.pax || this.longName !== null || this.longLink !== null) throw malformed(`end of archive after an extended header at offset ${offset}`);
      this.state = State.Zero;
      return;
    }
    if (this.state === State.Zero) throw malformed(`data after a zero block at offset ${offset}`);

    // checksum: the sum of all bytes with the checksum field read as spaces (unsigned, or signed as old tars did)
    let unsigned = 8 * 0x20;
    let signed = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++) {
      if (i >= 148 && i < 156) continue;
      const c = b[i]!;
      unsigned += c;
      signed += c > 127 ? c - 256 : c;
    }
    const sum = parseNumeric(b, 148, 8, 'checksum', offset);
    if (sum !== unsigned && sum !== signed) throw malformed(`invalid header checksum at offset ${offset}`);

    const flag = b[156]!;
    const kind = typeOf(flag);
    if (kind === undefined) throw malformed(`unsupported entry type ${describeFlag(flag)} at offset ${offset}`);
    const ustar = b.toString('latin1', 257, 263) === 'ustar\0';

    let size = parseNumeric(b, 124, 12, 'size', offset);
    if (size < 0) throw malformed(`negative size in header at offset ${offset}`);

    if (kind === 'pax' || kind === 'paxGlobal' || kind === 'longName' || kind === 'longLink') {
      if (size > MAX_META) throw malformed(`extended header of ${size} bytes at offset ${offset} is too large`);
      this.metaKind = kind;
      this.meta = Buffer.alloc(size);
      this.metaFill = 0;
      this.remaining = size;
      this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size === 0) {
        this.onMeta();
        this.toSkip(0);
      } else {
        this.state = State.Meta;
      }
      return;
    }

    let name = cString(b, 0, 100);
    if (ustar && b[345] !== 0) name = cString(b, 345, 155) + '/' + name;
    let type: TarEntryType = kind;
    if (flag === 0 && name.endsWith('/')) type = 'dir';
    let linkname = cString(b, 157, 100);
    let uid = parseNumeric(b, 108, 8, 'uid', offset);
    let gid = parseNumeric(b, 116, 8, 'gid', offset);
    let mtime = parseNumeric(b, 136, 12, 'mtime', offset);
    let atime: number | undefined;
    const mode = parseNumeric(b, 100, 8, 'mode', offset) & 0o7777;
    let devmajor = 0;
    let devminor = 0;
    if (type === 'char' || type === 'block') {
      devmajor = parseNumeric(b, 329, 8, 'devmajor', offset);
      devminor = parseNumeric(b, 337, 8, 'devminor', offset);
    }
    const xattrs = new Map<string, Buffer>();

    const pax = this.pax;
    this.pax = null;
    if (pax) {
      for (const [key, value] of pax) {
        const text = () => value.toString('utf8');
        switch (key) {
          case 'path':
            name = text();
            break;
          case 'linkpath':
            linkname = text();
            break;
          case 'size':
            if (!DECIMAL.test(text())) throw malformed(`invalid pax size for entry at offset ${offset}`);
            size = Number(text());
            break;
          case 'uid':
          case 'gid': {
            if (!DECIMAL.test(text())) throw malformed(`invalid pax ${key} for entry at offset ${offset}`);
            if (key === 'uid') uid = Number(text());
            else gid = Number(text());
            break;
          }
          case 'mtime':
          case 'atime': {
            if (!TIME.test(text())) throw malformed(`invalid pax ${key} for entry at offset ${offset}`);
            if (key === 'mtime') mtime = Number(text());
            else atime = Number(text());
            break;
          }
          default:
            if (key.startsWith('SCHILY.xattr.')) {
              const xname = key.slice('SCHILY.xattr.'.length);
              if (xname === '') throw malformed(`empty xattr name for entry at offset ${offset}`);
              xattrs.set(xname, value);
            } else if (key.startsWith('GNU.sparse.')) {
              throw malformed(`unsupported entry type (GNU sparse file, pax format) at offset ${offset}`);
            }
          // other keys (uname, gname, ctime, comment, charset …) are ignored, as docker does
        }
      }
    }
    if (this.longName !== null) name = this.longName;
    if (this.longLink !== null) linkname = this.longLink;
    this.longName = this.longLink = null;
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || uid < 0 || gid < 0) {
      throw malformed(`invalid numeric field in header at offset ${offset}`);
    }

    if (type !== 'file') size = 0; // header-only types carry no data (as Go's archive/tar reads them)
    const entry: TarEntry = { name, linkname, type, mode, uid, gid, size, mtime, atime, devmajor, devminor, xattrs, offset };
    const sink = this.onEntry(entry);
    if (size === 0) {
      sink?.end();
      this.state = State.Header;
      return;
    }
    this.sink = sink;
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = State.Data;
  }

  private onMeta(): void {
    const buf = this.meta!;
    this.meta = null;
    const offset = this.headerOffset;
    switch (this.metaKind) {
      case 'pax':
        this.pax = parsePaxRecords(buf, offset);
        break;
      case 'paxGlobal':
        parsePaxRecords(buf, offset); // validated, then ignored as docker does
        break;
      case 'longName':
      case 'longLink': {
        let end = buf.indexOf(0);
        if (end < 0) end = buf.length;
        const s = buf.toString('utf8', 0, end);
        if (this.metaKind === 'longName') this.longName = s;
        else this.longLink = s;
        break;
      }
    }
  }
}
