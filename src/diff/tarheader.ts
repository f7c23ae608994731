/**
 * Header-level rules of tarreader.ts, each as Go's archive/tar applies it:
 * type flags, the format a header is in (which decides whether its prefix
 * field is a prefix), and how pax records override header fields.
 */
import { malformed, parseDecimal, parsePaxTime } from './tarfields.js';
import type { TarEntryType } from './tarreader.js';

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < 512; i++) if (b[i] !== 0) return false;
  return true;
}

export type Kind = TarEntryType | 'pax' | 'paxGlobal' | 'longName' | 'longLink' | 'gnuSparse';

export function typeOf(flag: number): Kind | undefined {
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
    case 0x53: // 'S'
      return 'gnuSparse';
    default:
      return undefined;
  }
}

export function describeFlag(flag: number): string {
  const ch = String.fromCharCode(flag);
  const known: Record<string, string> = { D: 'GNU dump dir', M: 'GNU multi-volume', V: 'GNU volume label', N: 'GNU old long name', X: 'Solaris extended header', A: 'Solaris ACL' };
  const printable = flag >= 0x20 && flag < 0x7f;
  return `${printable ? `'${ch}'` : `0x${flag.toString(16)}`}${known[ch] ? ` (${known[ch]})` : ''}`;
}

export type Format = 'v7' | 'ustar' | 'star' | 'gnu';

/** Go's getFormat, once the checksum is known good. */
export function formatOf(b: Buffer): Format {
  const magic = b.toString('latin1', 257, 263);
  if (magic === 'ustar\0') return b.toString('latin1', 508, 512) === 'tar\0' ? 'star' : 'ustar';
  if (magic === 'ustar ' && b[263] === 0x20 && b[264] === 0) return 'gnu';
  return 'v7';
}

export const isAscii = (s: string) => !/[^\x00-\x7f]/.test(s);

/** The header fields a pax extended header can override. */
export interface PaxFields {
  name: string;
  linkname: string;
  size: number;
  uid: number;
  gid: number;
  mtime: number;
  atime: number | undefined;
}

/**
 * Apply pax records to a header's fields (Go's mergePAX): an empty value
 * keeps the header's; SCHILY.xattr.* records (empty ones too, as docker and
 * containerd read PAXRecords) become xattrs; uname, gname, comment, charset
 * and the like are ignored, as docker ignores them.
 */
export function applyPax(pax: Map<string, Buffer>, f: PaxFields, xattrs: Map<string, Buffer>, offset: number): void {
  for (const [key, value] of pax) {
    if (value.length === 0 && !key.startsWith('SCHILY.xattr.')) continue; // Go: an empty value keeps the header's
    const text = value.toString('latin1');
    const bad = () => malformed(`invalid pax ${key} for entry at offset ${offset}`);
    switch (key) {
      case 'path':
        f.name = text;
        break;
      case 'linkpath':
        f.linkname = text;
        break;
      case 'size': {
        const v = parseDecimal(text);
        if (v === undefined || v < 0) throw bad();
        f.size = v;
        break;
      }
      case 'uid':
      case 'gid': {
        const v = parseDecimal(text);
        if (v === undefined) throw bad();
        if (key === 'uid') f.uid = v;
        else f.gid = v;
        break;
      }
      case 'mtime':
      case 'atime':
      case 'ctime': {
        const v = parsePaxTime(text);
        if (v === undefined) throw bad();
        if (key === 'mtime') f.mtime = v;
        else if (key === 'atime') f.atime = v;
        break;
      }
      default:
        if (key.startsWith('SCHILY.xattr.')) {
          xattrs.set(Buffer.from(key.slice('SCHILY.xattr.'.length), 'latin1').toString('utf8'), value);
        }
      // other keys (uname, gname, comment, charset …) are ignored, as docker does
    }
  }
}
