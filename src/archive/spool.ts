/**
 * Read an untrusted image archive (docker-archive or oci-archive, plain or
 * gzip) from a stream in one pass, without seeking: every regular member is
 * written straight into the content store's ingest area while it is hashed.
 * The interpreters (docker.ts, oci.ts) then match members to descriptors by
 * name and digest, and the load op adopts the ones it uses into the store
 * (a rename: same filesystem). Nothing is ever written under a member's name,
 * so names cannot escape; they are still cleaned and checked because the
 * manifests refer to them.
 *
 * Bounds: member count, member size, and (in the interpreters) JSON sizes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ContentStore } from '../content/store.js';
import { TarReader, displayName, type TarDataSink, type TarEntry } from '../diff/tarreader.js';
import { openDecompressed } from '../util/compress.js';
import { TsrunError, invalidArchive, syscallError, unsafePath } from '../util/errors.js';
import { cleanMemberName } from '../util/paths.js';

export interface Member {
  name: string;
  /** Temp file in the content store's ingest dir holding the member's bytes. */
  tmp: string;
  digest: string;
  size: number;
}

export interface ArchiveLimits {
  maxMembers: number;
  maxMemberBytes: number;
}

export function archiveLimits(): ArchiveLimits {
  const n = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
  return {
    maxMembers: n(process.env.TSRUN_MAX_ARCHIVE_MEMBERS, 1_000_000),
    maxMemberBytes: n(process.env.TSRUN_MAX_ARCHIVE_MEMBER_BYTES, 64 * 1024 ** 3),
  };
}

export class SpooledArchive {
  readonly members = new Map<string, Member>();
  /** Symlinks and hardlinks between members: cleaned name → cleaned target name. */
  readonly links = new Map<string, string>();
  private readonly adopted = new Set<string>();

  /** The member a name refers to, following links inside the archive. */
  resolve(name: string): Member | undefined {
    let cur = cleanMemberName(name);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(cur);
      if (m) return m;
      const next = this.links.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    throw invalidArchive(`too many links resolving archive member ${JSON.stringify(name)}`);
  }

  /** Like resolve, but a missing member is an INVALID_ARCHIVE error naming who referred to it. */
  need(name: unknown, referrer: string): Member {
    if (typeof name !== 'string' || !name) throw invalidArchive(`${referrer} refers to an invalid member name ${JSON.stringify(name)}`);
    const m = this.resolve(name);
    if (!m) throw invalidArchive(`${referrer} refers to ${JSON.stringify(name)}, which is not in the archive`, 'the archive is incomplete or corrupt');
    return m;
  }

  /** Read a (small) member whole, refusing ones above max. */
  readBytes(m: Member, max: number, what: string): Buffer {
    if (m.size > max) throw new TsrunError('TOO_LARGE', `${what} ${JSON.stringify(m.name)} is ${m.size} bytes, more than the limit of ${max}`);
    return fs.readFileSync(m.tmp);
  }

  readJson<T>(m: Member, max: number, what: string): T {
    const buf = this.readBytes(m, max, what);
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch {
      throw invalidArchive(`${what} ${JSON.stringify(m.name)} is not valid JSON`);
    }
  }

  /** Move a member into the content store as the blob of its digest. Returns true when the blob is new. */
  adopt(content: ContentStore, m: Member): boolean {
    if (content.has(m.digest)) return false;
    if (this.adopted.has(m.tmp)) return false;
    this.adopted.add(m.tmp);
    content.adopt(m.tmp, m.digest);
    return true;
  }

  /** Remove the temp files of members that were not adopted. */
  cleanup(): void {
    for (const m of this.members.values()) if (!this.adopted.has(m.tmp)) fs.rmSync(m.tmp, { force: true });
  }
}

/** Writes one member to its temp file, hashing as it goes (synchronous: the tar parser is). */
class MemberSink implements TarDataSink {
  private readonly hash = crypto.createHash('sha256');
  private size = 0;
  constructor(
    private readonly fd: number,
    private readonly member: Member,
    private readonly limit: number,
  ) {}
  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) throw new TsrunError('TOO_LARGE', `archive member ${JSON.stringify(this.member.name)} is larger than the limit of ${this.limit} bytes`);
    this.hash.update(chunk);
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
  }
  end(): void {
    fs.closeSync(this.fd);
    this.member.digest = `sha256:${this.hash.digest('hex')}`;
    this.member.size = this.size;
  }
}

/** Read the whole archive into temp files. On error nothing is left behind. */
export async function spoolArchive(content: ContentStore, input: Readable, limits: ArchiveLimits = archiveLimits()): Promise<SpooledArchive> {
  const archive = new SpooledArchive();
  let count = 0;
  let openFd: number | undefined;
  const onEntry = (e: TarEntry): TarDataSink | null => {
    if (++count > limits.maxMembers) throw new TsrunError('TOO_LARGE', `archive has more than ${limits.maxMembers} members`, { hint: 'the archive is malformed or hostile' });
    // member names are matched against manifest.json's (JSON, so UTF-8) names
    const name = cleanMemberName(displayName(e.name));
    const linkname = displayName(e.linkname);
    if (e.type === 'dir') return null;
    if (!name) throw invalidArchive(`archive member with an empty name at offset ${e.offset}`);
    if (archive.members.has(name) || archive.links.has(name)) throw invalidArchive(`archive member ${JSON.stringify(name)} appears twice`, 'the archive is malformed or hostile');
    if (e.type === 'symlink' || e.type === 'link') {
      if (linkname.startsWith('/')) throw unsafePath(`archive member ${JSON.stringify(name)} links to an absolute path ${JSON.stringify(linkname)}`);
      const target = e.type === 'symlink' ? cleanMemberName(path.posix.join(path.posix.dirname(name), linkname)) : cleanMemberName(linkname);
      archive.links.set(name, target);
      return null;
    }
    if (e.type !== 'file') return null; // devices and fifos have no place in an image archive; ignored
    if (e.sparse) throw invalidArchive(`archive member ${JSON.stringify(name)} is a sparse file`, 'an image archive holds blobs, not sparse files; save the image again');
    if (e.size > limits.maxMemberBytes) throw new TsrunError('TOO_LARGE', `archive member ${JSON.stringify(name)} is ${e.size} bytes, more than the limit of ${limits.maxMemberBytes}`);
    const m: Member = { name, tmp: content.tempPath(), digest: '', size: 0 };
    try {
      openFd = fs.openSync(m.tmp, 'wx', 0o600);
    } catch (err) {
      throw syscallError('cannot spool archive member', err);
    }
    archive.members.set(name, m);
    const fd = openFd;
    const sink = new MemberSink(fd, m, limits.maxMemberBytes);
    if (e.size === 0) {
      sink.end();
      openFd = undefined;
      return null;
    }
    return {
      write: (c) => sink.write(c),
      end: () => {
        sink.end();
        openFd = undefined;
      },
    };
  };
  const reader = new TarReader(onEntry);
  try {
    const { stream } = await openDecompressed(input);
    for await (const chunk of stream) reader.push(chunk as Buffer);
    reader.finish();
    if (count === 0) throw invalidArchive('the archive is empty', 'give a docker-archive or oci-archive made by `save`');
    return archive;
  } catch (err) {
    if (openFd !== undefined) fs.closeSync(openFd);
    archive.cleanup();
    input.destroy();
    throw err;
  }
}
