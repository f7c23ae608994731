/**
 * Names and small helpers shared by apply.ts and apply-lower.ts. Names are
 * byte strings (latin1, one char per byte: tarreader.ts); `B` turns one into
 * the Buffer path the filesystem calls take, `q` into a short message text.
 */
import fs from 'node:fs';
import { invalidArchive } from '../util/errors.js';
import { displayName, type TarEntry } from './tarreader.js';

/**
 * Deepest nesting unpacked (node-tar's limit). Docker takes any depth the
 * kernel takes, but past ~1,000 levels a layer's paths outgrow PATH_MAX
 * (4096 bytes) under the store's root, and then the container's own tools,
 * commit, export and diff (all of which use whole paths) fail on it; no real
 * image comes near (the deepest common ones are ~30 levels).
 */
export const MAX_DEPTH = 1024;
/** Linux PATH_MAX: a longer path cannot be created or opened by name. */
export const PATH_MAX = 4096;

export const WH_PREFIX = '.wh.';
export const WH_META_PREFIX = '.wh..wh.';
export const WH_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE = 'trusted.overlay.opaque';


/** A byte-string name for a message: UTF-8 decoded, at most 120 characters (names can be 100 KB long). */
export const q = (s: string) => {
  const d = displayName(s);
  return JSON.stringify(d.length > 120 ? d.slice(0, 60) + '…' + d.slice(-60) : d);
};
const PLAIN_ASCII = /^[\x01-\x7f]*$/;
/**
 * A byte-string path as the filesystem calls take it: a Buffer (the bytes as
 * they are), or the string itself when it is plain ASCII (its UTF-8 is the
 * same bytes), which saves a Buffer per call on the common names.
 */
export const B = (s: string): string | Buffer => (PLAIN_ASCII.test(s) ? s : Buffer.from(s, 'latin1'));
/** AUFS's store of hardlinked inodes; docker keeps its files only as hardlink sources. */
export const AUFS_PLNK = '.wh..wh.plnk';
export const badLayer = (message: string) => invalidArchive(message, 'the layer is malformed or hostile; it was not applied');

export function depth(rel: string): number {
  let n = 0;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}

export function lexists(abs: string): boolean {
  try {
    fs.lstatSync(B(abs));
    return true;
  } catch {
    return false;
  }
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** The largest uid/gid Linux has: (uid_t)-1 means "leave unchanged" to chown. */
const MAX_ID = 0xfffffffe;

/** A uid or gid no Linux file can have is a hostile or broken header: say which entry and what. */
export function checkOwner(e: TarEntry): void {
  checkId(e, 'uid', e.uid);
  checkId(e, 'gid', e.gid);
}

function checkId(e: TarEntry, what: 'uid' | 'gid', v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_ID) {
    throw badLayer(`layer entry ${q(e.name)} has ${what} ${v}, outside the ${what}s a Linux file can have (0 to ${MAX_ID})`);
  }
}

/** The end of Go's time (1<<63 - 1 ns after the epoch), docker's upper bound for file times. */
const MAX_TIME = 9223372036.854775;

/**
 * A tar time as file time, as docker (moby's system.Chtimes): one before the
 * epoch or after MAX_TIME becomes the epoch. Node would take a negative time
 * as "now" and refuse a huge one with a bare EINVAL.
 */
export function unixTime(t: number): number {
  return Number.isFinite(t) && t >= 0 && t <= MAX_TIME ? t : 0;
}
