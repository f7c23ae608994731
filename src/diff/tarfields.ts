/**
 * The field parsers of tarreader.ts, each written to accept and refuse what
 * Go's archive/tar (reader.go, strconv.go; docker, containerd and scanners use
 * it) accepts and refuses: numeric fields, pax records, sparse maps. Names
 * are byte strings (latin1: one char per byte), never decoded, so a name that
 * is not UTF-8 reaches the filesystem unchanged, as Go's string does.
 */
import { TsrunError } from '../util/errors.js';

export function malformed(msg: string): TsrunError {
  return new TsrunError('INVALID_ARCHIVE', `malformed tar: ${msg}`, { hint: 'the layer or archive is corrupt; pull or save it again' });
}

/** A NUL-terminated header field as a byte string (Go's parseString). */
export function cString(b: Buffer, start: number, len: number): string {
  let end = b.indexOf(0, start);
  if (end < 0 || end > start + len) end = start + len;
  return b.toString('latin1', start, end);
}

/**
 * A numeric header field (Go's parseNumeric): GNU base-256 when the first
 * bit is set (two's complement, the 0x40 bit the sign), else octal text with
 * leading and trailing spaces and NULs trimmed and cut at the first NUL.
 * Returns undefined where Go sets ErrHeader; values past 2^53 are refused too.
 */
export function parseNumeric(b: Buffer, start: number, len: number): number | undefined {
  const first = b[start]!;
  if (first & 0x80) {
    const inv = first & 0x40 ? 0xff : 0;
    let v = 0;
    for (let i = start; i < start + len; i++) {
      let c = b[i]! ^ inv;
      if (i === start) c &= 0x7f;
      v = v * 256 + c;
      if (v > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return inv ? -v - 1 : v;
  }
  let s = start;
  let e = start + len;
  while (s < e && (b[s] === 0x20 || b[s] === 0)) s++;
  while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0)) e--;
  if (s === e) return 0;
  const nul = b.indexOf(0, s);
  if (nul >= 0 && nul < e) e = nul;
  if (s === e) return undefined; // ParseUint("") fails
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) return undefined;
    v = v * 8 + (c - 0x30);
  }
  return v > Number.MAX_SAFE_INTEGER ? undefined : v;
}

/** Go's strconv.ParseInt(s, 10, 64) for the values tsrun can hold: an optional sign, decimal digits. */
export function parseDecimal(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** A pax time: decimal seconds with an optional fraction (Go's parsePAXTime). */
export function parsePaxTime(s: string): number | undefined {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(s)) return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

const GNU_SPARSE_OFFSET = 'GNU.sparse.offset';
const GNU_SPARSE_NUMBYTES = 'GNU.sparse.numbytes';
export const GNU_SPARSE_MAP = 'GNU.sparse.map';

/**
 * Pax records `LEN KEY=VALUE\n` (Go's parsePAX and parsePAXRecord). Values
 * are raw bytes (binary xattrs such as security.capability survive). Sparse
 * format 0.0's repeated offset/numbytes records are joined into
 * GNU.sparse.map, as Go does.
 */
export function parsePaxRecords(buf: Buffer, offset: number): Map<string, Buffer> {
  const bad = () => malformed(`invalid pax record at offset ${offset}`);
  const out = new Map<string, Buffer>();
  const sparseMap: string[] = [];
  let p = 0;
  while (p < buf.length) {
    const sp = buf.indexOf(0x20, p);
    if (sp < 0) throw bad();
    const n = parseDecimal(buf.toString('latin1', p, sp));
    if (n === undefined || n < 5 || n > buf.length - p) throw bad();
    const end = p + n;
    if (end <= sp + 1 || buf[end - 1] !== 0x0a) throw bad();
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) throw bad();
    const keyBytes = buf.subarray(sp + 1, eq);
    const value = Buffer.from(buf.subarray(eq + 1, end - 1));
    if (keyBytes.length === 0) throw bad();
    const key = keyBytes.toString('latin1');
    // Go's validPAXRecord: no NUL in path-like values, nor in any other key
    if (key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname') {
      if (value.includes(0)) throw bad();
    } else if (keyBytes.includes(0)) {
      throw bad();
    }
    if (key === GNU_SPARSE_OFFSET || key === GNU_SPARSE_NUMBYTES) {
      const wantOffset = sparseMap.length % 2 === 0;
      if ((wantOffset && key !== GNU_SPARSE_OFFSET) || (!wantOffset && key !== GNU_SPARSE_NUMBYTES) || value.includes(0x2c)) throw bad();
      sparseMap.push(value.toString('latin1'));
    } else {
      out.set(key, value);
    }
    p = end;
  }
  if (sparseMap.length) out.set(GNU_SPARSE_MAP, Buffer.from(sparseMap.join(','), 'latin1'));
  return out;
}

export interface SparseRegion {
  offset: number;
  length: number;
}

/** Go's validateSparseEntries: in order, not overlapping, inside the file. */
export function validSparse(regions: SparseRegion[], size: number): boolean {
  if (size < 0) return false;
  let preEnd = 0;
  for (const r of regions) {
    if (r.offset < 0 || r.length < 0) return false;
    if (r.offset + r.length > size) return false;
    if (preEnd > r.offset) return false;
    preEnd = r.offset + r.length;
  }
  return true;
}

/** Sparse format 0.0 / 0.1: GNU.sparse.numblocks and a comma-separated map (Go's readGNUSparseMap0x1). */
export function sparseMap0x1(pax: Map<string, Buffer>, offset: number): SparseRegion[] {
  const bad = () => malformed(`invalid GNU sparse map for entry at offset ${offset}`);
  const count = parseDecimal(pax.get('GNU.sparse.numblocks')?.toString('latin1') ?? '');
  if (count === undefined || count < 0) throw bad();
  let parts = (pax.get(GNU_SPARSE_MAP)?.toString('latin1') ?? '').split(',');
  if (parts.length === 1 && parts[0] === '') parts = [];
  if (parts.length !== 2 * count) throw bad();
  const out: SparseRegion[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const o = parseDecimal(parts[i]!);
    const l = parseDecimal(parts[i + 1]!);
    if (o === undefined || l === undefined) throw bad();
    out.push({ offset: o, length: l });
  }
  return out;
}

/**
 * Sparse format 1.0: the map is decimal lines at the start of the data,
 * padded to whole blocks (Go's readGNUSparseMap1x0). `blocks` is what has been
 * read so far; returns undefined while more blocks are needed, else the map
 * and how many blocks it took.
 */
export function sparseMap1x0(blocks: Buffer, offset: number): { regions: SparseRegion[]; used: number } | undefined {
  const bad = () => malformed(`invalid GNU sparse map for entry at offset ${offset}`);
  const lines: string[] = [];
  let p = 0;
  const nextLine = (): string | undefined => {
    const nl = blocks.indexOf(0x0a, p);
    if (nl < 0) return undefined;
    const s = blocks.toString('latin1', p, nl);
    p = nl + 1;
    return s;
  };
  const first = nextLine();
  if (first === undefined) return undefined;
  const count = parseDecimal(first);
  if (count === undefined || count < 0) throw bad();
  for (let i = 0; i < 2 * count; i++) {
    const l = nextLine();
    if (l === undefined) return undefined;
    lines.push(l);
  }
  const regions: SparseRegion[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const o = parseDecimal(lines[i]!);
    const l = parseDecimal(lines[i + 1]!);
    if (o === undefined || l === undefined) throw bad();
    regions.push({ offset: o, length: l });
  }
  // Go reads whole blocks: the map takes every block up to the one holding its last newline
  return { regions, used: Math.ceil(p / 512) * 512 };
}

/** A numeric header field that must parse (as parseNumeric), else INVALID_ARCHIVE naming it. */
export function numField(b: Buffer, start: number, len: number, field: string, offset: number): number {
  const v = parseNumeric(b, start, len);
  if (v === undefined) throw malformed(`invalid ${field} field in header at offset ${offset}`);
  return v;
}
