/**
 * A small synchronous push parser for tar streams (ustar, pax, GNU), written
 * for layer apply where every byte is hostile and speed matters. It reads
 * what Go's archive/tar reads, the way it reads it, because docker,
 * containerd and image scanners read layers with it: an entry must not show
 * one name to a scanner and another to tsrun. test/unit/tar-go.test.ts checks
 * this against Go itself on a set of tricky archives.
 *
 * - names and link names are byte strings (latin1: one char per byte), never
 *   decoded: a name that is not UTF-8 is kept, as Go keeps it;
 * - pax records keep their values as raw bytes (binary xattrs such as
 *   security.capability survive); an empty pax value keeps the header's value;
 * - name precedence: GNU.sparse.name, then a GNU long name (`L`/`K`, when not
 *   empty), then pax `path`/`linkpath`, then the ustar prefix + name (the
 *   prefix only in ustar/pax headers, as Go decides the format);
 * - a global pax header (`g`) ends the entry being assembled: a pending `x`,
 *   `L` or `K` before it is dropped, and its own records are ignored (docker
 *   and containerd ignore them);
 * - header-only types (link, symlink, char, block, dir, fifo) carry no data,
 *   whatever their size field says;
 * - GNU sparse files (old `S` headers and pax formats 0.0, 0.1 and 1.0) are
 *   regular files with holes: the sink gets each data fragment at its offset;
 * - the archive ends at two zero blocks, at one zero block then EOF, or at EOF on
 *   a header boundary; anything after the end marker is ignored;
 * - other type flags (GNU multi-volume, volume labels, Solaris ACLs …) are
 *   refused: Go hands them to its caller, and docker and containerd refuse them.
 *
 * Usage: `const r = new TarReader(onEntry); for (chunk) r.push(chunk); r.finish();`
 * onEntry is called synchronously for each entry and returns a sink for the
 * data of regular files (or null to skip it). Errors are TsrunErrors
 * (INVALID_ARCHIVE) thrown out of push()/finish().
 */
import { malformed, cString, parseNumeric, numField, parseDecimal, parsePaxRecords, validSparse, sparseMap0x1, sparseMap1x0, GNU_SPARSE_MAP, type SparseRegion } from './tarfields.js';
import { isZeroBlock, typeOf, describeFlag, formatOf, isAscii, applyPax, type PaxFields } from './tarheader.js';

export { parsePaxRecords } from './tarfields.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** Raw member name as a byte string (latin1), after long name / pax path; not cleaned. */
  name: string;
  /** Raw link target for symlinks and hardlinks as a byte string; '' otherwise. */
  linkname: string;
  type: TarEntryType;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Logical data size; 0 for every type but 'file'. */
  size: number;
  /** Seconds since the epoch (fractional with pax). */
  mtime: number;
  /** Seconds since the epoch, from pax `atime` when present. */
  atime?: number;
  devmajor: number;
  devminor: number;
  /** `SCHILY.xattr.NAME` pax records: name → raw value bytes. */
  xattrs: ReadonlyMap<string, Buffer>;
  /** A sparse file: its data regions (the rest are holes); the sink gets each region's bytes at its offset. */
  sparse?: SparseRegion[];
  /** Byte offset of the entry's header in the archive, for messages. */
  offset: number;
}

export interface TarDataSink {
  /** `chunk` belongs at byte `position` of the file (in order; a sparse file skips its holes). */
  write(chunk: Buffer, position: number): void;
  end(): void;
}

/** Decode a byte-string name for a message (invalid UTF-8 shows as U+FFFD there, and only there). */
export function displayName(name: string): string {
  return Buffer.from(name, 'latin1').toString('utf8');
}

const BLOCK = 512;
/** The xattrs of every entry without pax records (shared: never written to). */
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

/** Largest pax or GNU long-name body accepted, as Go's archive/tar (maxSpecialFileSize). */
const MAX_META = 1 << 20;

const enum State {
  Header,
  Data,
  Skip,
  Meta,
  SparseExt, // old GNU sparse extension blocks, before the data
  SparseMap, // sparse 1.0 map blocks at the start of the data
  Zero, // one zero block seen
  End,
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
  private metaKind: 'pax' | 'paxGlobal' | 'longName' | 'longLink' | 'sparseExt' | 'sparseMap' = 'pax';
  private pax: Map<string, Buffer> | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  /** The entry whose header has been read but whose sparse map is still being read. */
  private held: { entry: TarEntry; physical: number; regions: SparseRegion[] } | null = null;
  /** Where the next data byte goes: the file's regions and the position in them. */
  private regions: SparseRegion[] | null = null;
  private region = 0;
  private regionPos = 0;
  private position = 0;
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
          this.deliver(chunk.subarray(off, off + n));
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
        case State.Meta:
        case State.SparseExt:
        case State.SparseMap: {
          const n = Math.min(this.remaining, len - off);
          chunk.copy(this.meta!, this.metaFill, off, off + n);
          this.metaFill += n;
          off += n;
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.state === State.Meta) {
              this.onMeta();
              this.toSkip(this.padding);
            } else if (this.state === State.SparseExt) {
              this.onSparseExt();
            } else {
              this.onSparseMapBlock();
            }
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
    // EOF on a header boundary (after one zero block, or none) is an end, as Go's archive/tar reads it;
    // an extended header then ends with nothing to apply to, as in Go
    if ((this.state === State.Zero || this.state === State.Header) && this.hdrFill === 0) return;
    throw malformed(`unexpected end of archive at offset ${this.pos}`);
  }

  private toSkip(n: number): void {
    this.remaining = n;
    this.state = n > 0 ? State.Skip : State.Header;
  }

  private readMeta(state: State, size: number): void {
    this.meta = Buffer.alloc(size);
    this.metaFill = 0;
    this.remaining = size;
    this.state = state;
  }

  /** Hand file data to the sink at its place in the file (a sparse file's regions in order). */
  private deliver(data: Buffer): void {
    if (!this.sink) return;
    const regions = this.regions;
    if (!regions) {
      this.sink.write(data, this.position);
      this.position += data.length;
      return;
    }
    let p = 0;
    while (p < data.length) {
      const r = regions[this.region]!;
      const n = Math.min(r.length - this.regionPos, data.length - p);
      if (n > 0) this.sink.write(data.subarray(p, p + n), r.offset + this.regionPos);
      p += n;
      this.regionPos += n;
      if (this.regionPos === r.length) {
        this.region++;
        this.regionPos = 0;
      }
    }
  }

  private onBlock(b: Buffer): void {
    const offset = this.headerOffset;
    if (isZeroBlock(b)) {
      if (this.state === State.Zero) {
        this.state = State.End;
        return;
      }
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
    const sum = parseNumeric(b, 148, 8);
    if (sum !== unsigned && sum !== signed) throw malformed(`invalid header checksum at offset ${offset}`);
    const format = formatOf(b);

    const flag = b[156]!;
    const kind = typeOf(flag);
    if (kind === undefined) throw malformed(`unsupported entry type ${describeFlag(flag)} at offset ${offset}`);
    const num = (start: number, len: number, field: string): number => numField(b, start, len, field, offset);
    let size = num(124, 12, 'size');
    if (size < 0) throw malformed(`negative size in header at offset ${offset}`);
    let mode = num(100, 8, 'mode');
    let uid = num(108, 8, 'uid');
    let gid = num(116, 8, 'gid');
    let mtime = num(136, 12, 'mtime');
    let devmajor = 0;
    let devminor = 0;
    let name = cString(b, 0, 100);
    if (format !== 'v7') {
      devmajor = num(329, 8, 'devmajor');
      devminor = num(337, 8, 'devminor');
      let prefix = '';
      if (format === 'ustar') prefix = cString(b, 345, 155);
      else if (format === 'star') {
        prefix = cString(b, 345, 131);
        num(476, 12, 'atime');
        num(488, 12, 'ctime');
      } else if ((b[345] !== 0 && parseNumeric(b, 345, 12) === undefined) || (b[357] !== 0 && parseNumeric(b, 357, 12) === undefined)) {
        // a GNU header whose atime/ctime do not parse: a pre-1.8 Go writer put a ustar prefix there
        const s = cString(b, 345, 155);
        if (isAscii(s)) prefix = s;
      }
      if (prefix !== '') name = prefix + '/' + name;
    }

    switch (kind) {
      case 'pax':
      case 'paxGlobal':
      case 'longName':
      case 'longLink':
        if (size > MAX_META) throw malformed(`extended header of ${size} bytes at offset ${offset} is too large`);
        this.metaKind = kind;
        this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
        this.readMeta(State.Meta, size);
        if (size === 0) {
          this.onMeta();
          this.toSkip(0);
        }
        return;
    }

    let type: TarEntryType = kind === 'gnuSparse' ? 'file' : kind;
    let linkname = cString(b, 157, 100);
    let xattrs = NO_XATTRS;
    let atime: number | undefined;

    const pax = this.pax;
    this.pax = null;
    if (pax) {
      const f: PaxFields = { name, linkname, size, uid, gid, mtime, atime: undefined };
      const map = new Map<string, Buffer>();
      applyPax(pax, f, map, offset);
      xattrs = map;
      ({ name, linkname, size, uid, gid, mtime, atime } = f);
    }
    if (this.longName) name = this.longName;
    if (this.longLink) linkname = this.longLink;
    this.longName = this.longLink = null;
    if (flag === 0 && name.endsWith('/')) type = 'dir'; // old archives mark directories so (Go decides on the final name)
    if (uid < 0 || gid < 0 || uid > 0xffffffff || gid > 0xffffffff) throw malformed(`invalid uid or gid in header at offset ${offset}`);

    const isHeaderOnly = type !== 'file';
    let physical = isHeaderOnly ? 0 : size; // header-only types carry no data (as Go's archive/tar reads them)
    mode &= 0o7777;
    const entry: TarEntry = { name, linkname, type, mode, uid, gid, size: isHeaderOnly ? 0 : size, mtime, atime, devmajor, devminor, xattrs, offset };

    if (kind === 'gnuSparse') {
      if (format !== 'gnu') throw malformed(`GNU sparse entry in a non-GNU header at offset ${offset}`);
      entry.size = num(483, 12, 'sparse real size');
      const regions: SparseRegion[] = [];
      const more = this.sparseEntries(b, 386, 4, regions, offset);
      if (more) {
        this.held = { entry, physical, regions };
        this.readMeta(State.SparseExt, BLOCK);
        return;
      }
      return this.startData(entry, physical, regions);
    }
    if (pax) {
      const major = pax.get('GNU.sparse.major')?.toString('latin1') ?? '';
      const minor = pax.get('GNU.sparse.minor')?.toString('latin1') ?? '';
      let version: '0x' | '1.0' | undefined;
      if (major === '0' && (minor === '0' || minor === '1')) version = '0x';
      else if (major === '1' && minor === '0') version = '1.0';
      else if (major === '' && minor === '' && pax.get(GNU_SPARSE_MAP)?.length) version = '0x';
      if (version) {
        const sparseName = pax.get('GNU.sparse.name');
        if (sparseName?.length) entry.name = sparseName.toString('latin1');
        const sz = pax.get('GNU.sparse.size')?.length ? pax.get('GNU.sparse.size') : pax.get('GNU.sparse.realsize');
        if (sz?.length) {
          const v = parseDecimal(sz.toString('latin1'));
          if (v === undefined) throw malformed(`invalid GNU sparse size for entry at offset ${offset}`);
          if (!isHeaderOnly) entry.size = v;
        }
        if (isHeaderOnly) throw malformed(`sparse map on a ${type} entry at offset ${offset}`);
        if (version === '0x') return this.startData(entry, physical, sparseMap0x1(pax, offset));
        // 1.0: the map is in the first blocks of the data
        if (physical < BLOCK) throw malformed(`GNU sparse map past the end of entry at offset ${offset}`);
        this.held = { entry, physical, regions: [] };
        this.readMeta(State.SparseMap, BLOCK);
        return;
      }
    }
    this.startData(entry, physical, undefined);
  }

  /** Read `count` old-GNU sparse entries at `at`; returns whether an extension block follows. */
  private sparseEntries(b: Buffer, at: number, count: number, out: SparseRegion[], offset: number): boolean {
    for (let i = 0; i < count; i++) {
      const p = at + i * 24;
      if (b[p] === 0) break; // as GNU and BSD tar
      const o = parseNumeric(b, p, 12);
      const l = parseNumeric(b, p + 12, 12);
      if (o === undefined || l === undefined) throw malformed(`invalid GNU sparse map for entry at offset ${offset}`);
      out.push({ offset: o, length: l });
    }
    return b[at + count * 24]! > 0;
  }

  private onSparseExt(): void {
    const held = this.held!;
    const more = this.sparseEntries(this.meta!, 0, 21, held.regions, held.entry.offset);
    if (more) return this.readMeta(State.SparseExt, BLOCK);
    this.held = null;
    this.startData(held.entry, held.physical, held.regions);
  }

  private onSparseMapBlock(): void {
    const held = this.held!;
    const map = sparseMap1x0(this.meta!, held.entry.offset);
    if (!map) {
      if (this.meta!.length + BLOCK > held.physical) throw malformed(`GNU sparse map past the end of entry at offset ${held.entry.offset}`);
      if (this.meta!.length + BLOCK > MAX_META) throw malformed(`GNU sparse map of entry at offset ${held.entry.offset} is too large`);
      const prev = this.meta!;
      this.readMeta(State.SparseMap, BLOCK);
      this.meta = Buffer.concat([prev, Buffer.alloc(BLOCK)]);
      this.metaFill = prev.length;
      return;
    }
    this.held = null;
    this.startData(held.entry, held.physical - map.used, map.regions);
  }

  /** The entry is complete: hand it out and read its data (`physical` bytes in the archive). */
  private startData(entry: TarEntry, physical: number, regions: SparseRegion[] | undefined): void {
    const offset = entry.offset;
    if (regions) {
      if (!validSparse(regions, entry.size)) throw malformed(`invalid GNU sparse map for entry at offset ${offset}`);
      const data = regions.reduce((n, r) => n + r.length, 0);
      // Go fails the read with errMissData / errUnrefData
      if (data !== physical) throw malformed(`GNU sparse map of entry at offset ${offset} does not match its data (${data} bytes mapped, ${physical} stored)`);
      entry.sparse = regions;
      this.regions = regions.filter((r) => r.length > 0);
    } else {
      this.regions = null;
    }
    this.region = 0;
    this.regionPos = 0;
    this.position = 0;
    const sink = this.onEntry(entry);
    if (physical === 0) {
      sink?.end();
      this.toSkip(0);
      return;
    }
    this.sink = sink;
    this.remaining = physical;
    this.padding = (BLOCK - (physical % BLOCK)) % BLOCK;
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
        // validated, then ignored as docker does; it ends the entry being assembled, as Go returns it as one
        parsePaxRecords(buf, offset);
        this.pax = null;
        this.longName = this.longLink = null;
        break;
      case 'longName':
      case 'longLink': {
        const s = cString(buf, 0, buf.length);
        if (this.metaKind === 'longName') this.longName = s;
        else this.longLink = s;
        break;
      }
    }
  }
}
