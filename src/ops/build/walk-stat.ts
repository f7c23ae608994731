/**
 * COPY's walk, a directory at a time: names, lstats and whether each entry has xattrs in
 * one native call (native/addon/readdirstats.c) instead of a readdir plus an lstat (BigInt
 * fields, four Dates) and an llistxattr per entry from JS, which cost a 10,000-file context
 * ~0.15 s of the JS thread and its garbage collector.
 */
import fs from 'node:fs';
import { native } from '../../native.js';

/** The fields of an lstat COPY uses; fs.BigIntStats has them, and so has WalkStat. */
export interface EntryStat {
  readonly mode: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly size: bigint;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly atimeMs: bigint;
  readonly mtimeMs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

const STRIDE = 13; // readdirstats.c STAT_STRIDE
const S_IFMT = 0o170000;
const NS = 1_000_000_000n;

/** One entry's lstat, read from the directory's shared array when a field is asked for (as node:fs's BigIntStats gives them). */
class WalkStat implements EntryStat {
  private readonly type: number;
  constructor(
    private readonly a: BigInt64Array,
    private readonly at: number,
  ) {
    this.type = Number(a[at]!) & S_IFMT;
  }
  get mode(): bigint {
    return this.a[this.at]!;
  }
  get uid(): bigint {
    return this.a[this.at + 1]!;
  }
  get gid(): bigint {
    return this.a[this.at + 2]!;
  }
  get size(): bigint {
    return this.a[this.at + 3]!;
  }
  get dev(): bigint {
    return BigInt.asUintN(64, this.a[this.at + 4]!);
  }
  get ino(): bigint {
    return BigInt.asUintN(64, this.a[this.at + 5]!);
  }
  get atimeMs(): bigint {
    return this.a[this.at + 7]! * 1000n + this.a[this.at + 8]! / 1_000_000n;
  }
  get mtimeMs(): bigint {
    return this.a[this.at + 9]! * 1000n + this.a[this.at + 10]! / 1_000_000n;
  }
  get mtimeNs(): bigint {
    return this.a[this.at + 9]! * NS + this.a[this.at + 10]!;
  }
  get ctimeNs(): bigint {
    return this.a[this.at + 11]! * NS + this.a[this.at + 12]!;
  }
  isFile(): boolean {
    return this.type === fs.constants.S_IFREG;
  }
  isDirectory(): boolean {
    return this.type === fs.constants.S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return this.type === fs.constants.S_IFLNK;
  }
}

export interface DirEntry {
  name: string;
  st: EntryStat;
  /** false: it has none (no need to ask); undefined: unknown, ask readXattrs. */
  xattrs: false | undefined;
}

/** The entries of `dir` (its path, without a trailing slash needed), names sorted as Array.prototype.sort sorts them. */
export function readDirEntries(dir: string): DirEntry[] {
  const [names, stats, xattrs] = native().readDirStats(dir);
  const out: DirEntry[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) out[i] = { name: names[i]!, st: new WalkStat(stats, i * STRIDE), xattrs: xattrs[i] === 0 ? false : undefined };
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
