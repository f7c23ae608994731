/**
 * Image store: which images exist and what they are called.
 * ROOT/images/index.json = { images: { ID: ImageRecord }, tags: { NAME: ID }, lists?: { NAME: ListRecord } }
 *
 *  - ID is the config digest, as docker and podman show it.
 *  - NAME is a normalised `registry/repository:tag`.
 *  - The record points at a manifest blob in the content store; the manifest
 *    points at the config and the layer blobs.
 *
 *  - A name may also hold an image index (a multi-platform build's manifest list): `lists[NAME]`
 *    names the index blob and one image per platform; `tags[NAME]` is then the entry for this
 *    machine's platform (the first entry when none is), so everything that reads a name as
 *    one image (run, inspect, history, images) sees that one, as docker's containerd store
 *    does; `run --platform`, save and push read the list. Whoever points a tag elsewhere
 *    drops its list (setTag).
 *
 * Writers go through `update`, which holds index.lock while it reads, changes
 * and atomically rewrites the index. Callers put blobs and layers in place
 * *before* adding an image here, so a tag never points at something missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError } from '../util/errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic.js';
import { withLockSync } from '../util/lock.js';
import { parseReference, repoName, taggedName } from '../oci/reference.js';
import type { ContentStore } from '../content/store.js';
import type { ImageConfig, Manifest, Platform } from '../oci/types.js';
import { chainIds } from '../oci/digest.js';

export interface ImageRecord {
  /** Config digest. */
  id: string;
  /** Manifest digest in the content store. */
  manifest: string;
  /** Media type of that manifest (OCI or docker schema2); push and save keep it. */
  mediaType: string;
  /** `registry/repository@sha256:…` for each registry manifest this image was pulled as or pushed to. */
  repoDigests: string[];
  /** When the image entered this store (ISO 8601). */
  added: string;
}

/** An image index stored under a name: its blob and the image (an ImageRecord ID) of each platform. */
export interface ListRecord {
  /** Digest of the index blob in the content store. */
  digest: string;
  /** OCI image index or docker manifest list. */
  mediaType: string;
  manifests: { id: string; platform: Platform }[];
  /** `registry/repository@sha256:…` for each registry this index was pushed to. */
  repoDigests: string[];
}

export interface ImageIndex {
  version: 1;
  images: Record<string, ImageRecord>;
  tags: Record<string, string>;
  lists?: Record<string, ListRecord>;
}

/** Point NAME at one image; a list it held is dropped (the name now means that image alone). */
export function setTag(idx: ImageIndex, name: string, id: string): void {
  idx.tags[name] = id;
  if (idx.lists) delete idx.lists[name];
}

/** Remove NAME (and its list, if it held one). */
export function untag(idx: ImageIndex, name: string): void {
  delete idx.tags[name];
  if (idx.lists) delete idx.lists[name];
}

/** IDs of the images some list holds (they are in use even when no tag names them). */
export function listMembers(idx: ImageIndex): Set<string> {
  const out = new Set<string>();
  for (const l of Object.values(idx.lists ?? {})) for (const m of l.manifests) out.add(m.id);
  return out;
}

/** An image with its manifest and config read from the content store. */
export interface Image {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  /** Normalised tagged names pointing at it. */
  tags: string[];
  /** Chain IDs of its layers, bottom first. */
  chainIds: string[];
}

const EMPTY: ImageIndex = { version: 1, images: {}, tags: {} };

export class ImageStore {
  readonly dir: string;
  private readonly indexFile: string;
  private readonly lockFile: string;

  constructor(
    root: string,
    private readonly content: ContentStore,
    /** make the store's dir (see context.ts: only commands that may start a store do) */
    private readonly create = true,
  ) {
    this.dir = path.join(root, 'images');
    this.indexFile = path.join(this.dir, 'index.json');
    this.lockFile = path.join(this.dir, 'index.lock');
    if (create) fs.mkdirSync(this.dir, { recursive: true });
  }

  read(): ImageIndex {
    const idx = readJsonIfExists<ImageIndex>(this.indexFile);
    return idx ? idx : structuredClone(EMPTY);
  }

  /**
   * Read-modify-write the index under its lock. `fn` may throw to abort with no change.
   * A store that does not exist (opened without create: context.ts) holds no image:
   * fn sees an empty index (a name is not found, a prune finds nothing), and a change is refused.
   */
  update<T>(fn: (idx: ImageIndex) => T): T {
    if (!this.create && !fs.existsSync(this.dir)) {
      const idx = structuredClone(EMPTY);
      const result = fn(idx);
      if (JSON.stringify(idx) !== JSON.stringify(EMPTY)) throw new TsrunError('NOT_FOUND', `no image store at ${this.dir}`);
      return result;
    }
    return withLockSync(this.lockFile, () => {
      const idx = this.read();
      const result = fn(idx);
      writeJsonAtomic(this.indexFile, idx);
      return result;
    });
  }

  tagsOf(idx: ImageIndex, id: string): string[] {
    return Object.keys(idx.tags)
      .filter((t) => idx.tags[t] === id)
      .sort();
  }

  /**
   * Find an image the way docker does: a name (normalised, tag default
   * latest), name@digest (matched against RepoDigests and manifest digests),
   * a full ID (sha256:…) or a unique prefix of an ID.
   */
  resolve(ref: string, idx: ImageIndex = this.read()): ImageRecord {
    const found = this.tryResolve(ref, idx);
    if (!found) {
      throw new TsrunError('NOT_FOUND', `No such image: ${ref}`, { hint: 'see `tsrun images`; pull, load or import it first' });
    }
    return found;
  }

  tryResolve(ref: string, idx: ImageIndex = this.read()): ImageRecord | undefined {
    const idLike = /^(sha256:)?([a-f0-9]{1,64})$/.exec(ref);
    if (idLike && (idLike[1] || idLike[2]!.length === 64)) {
      const rec = idx.images[`sha256:${idLike[2]}`];
      if (rec) return rec;
    }
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch (err) {
      if (!idLike) throw err;
    }
    if (parsed) {
      if (parsed.digest) {
        const want = `${repoName(parsed)}@${parsed.digest}`;
        for (const rec of Object.values(idx.images)) {
          if (rec.repoDigests.includes(want) || (rec.manifest === parsed.digest && this.tagsOf(idx, rec.id).some((t) => t.startsWith(repoName(parsed) + ':')))) return rec;
        }
        for (const rec of Object.values(idx.images)) if (rec.manifest === parsed.digest) return rec;
      } else {
        const id = idx.tags[taggedName(parsed)!];
        if (id && idx.images[id]) return idx.images[id];
      }
    }
    if (idLike && idLike[2]!.length >= 1) {
      const prefix = `sha256:${idLike[2]}`;
      const hits = Object.keys(idx.images).filter((id) => id.startsWith(prefix));
      if (hits.length === 1) return idx.images[hits[0]!];
      if (hits.length > 1) throw new TsrunError('AMBIGUOUS', `image ID prefix ${ref} matches ${hits.length} images`, { hint: 'give more characters of the ID' });
    }
    return undefined;
  }

  /** Read an image's manifest and config from the content store. */
  image(rec: ImageRecord, idx: ImageIndex = this.read()): Image {
    const manifest = this.content.readJson<Manifest>(rec.manifest, 4 * 1024 * 1024);
    const config = this.content.readJson<ImageConfig>(rec.id, 8 * 1024 * 1024);
    return { record: rec, manifest, config, tags: this.tagsOf(idx, rec.id), chainIds: chainIds(config.rootfs?.diff_ids ?? []) };
  }

  /** The list a name holds (a user's name, normalised; undefined for IDs, digests and plain tags). */
  listOf(ref: string, idx: ImageIndex = this.read()): ListRecord | undefined {
    if (!idx.lists || /^(sha256:)?[a-f0-9]{12,64}$/.test(ref)) return undefined;
    try {
      const r = parseReference(ref);
      return r.digest ? undefined : idx.lists[taggedName(r)!];
    } catch {
      return undefined;
    }
  }

  /**
   * Record an image index under `tags`, with its member images (their blobs already in the
   * content store), in one change: each tag points at the member for `host` (else the first).
   */
  addList(members: Omit<ImageRecord, 'added' | 'repoDigests'>[], list: Omit<ListRecord, 'repoDigests'>, tags: string[], host: Platform, matches: (have: Platform, want: Platform) => boolean): void {
    this.update((idx) => {
      const added = new Date().toISOString();
      for (const m of members) idx.images[m.id] = { ...m, repoDigests: idx.images[m.id]?.repoDigests ?? [], added: idx.images[m.id]?.added ?? added };
      const first = list.manifests.find((m) => matches(m.platform, host)) ?? list.manifests[0]!;
      for (const t of tags) {
        setTag(idx, t, first.id);
        (idx.lists ??= {})[t] = { ...list, repoDigests: [] };
      }
    });
  }

  get(ref: string): Image {
    const idx = this.read();
    return this.image(this.resolve(ref, idx), idx);
  }

  /**
   * Add (or refresh) an image and point tags at it. Tags that pointed at
   * another image move, as `docker tag` does; the old image stays, untagged.
   */
  add(rec: Omit<ImageRecord, 'added' | 'repoDigests'> & { repoDigests?: string[] }, tags: string[] = []): ImageRecord {
    return this.update((idx) => {
      const prev = idx.images[rec.id];
      const merged: ImageRecord = {
        id: rec.id,
        manifest: rec.manifest,
        mediaType: rec.mediaType,
        repoDigests: [...new Set([...(prev?.repoDigests ?? []), ...(rec.repoDigests ?? [])])],
        added: prev?.added ?? new Date().toISOString(),
      };
      idx.images[rec.id] = merged;
      for (const t of tags) setTag(idx, t, rec.id);
      return merged;
    });
  }
}

/** Normalise a user's REPOSITORY[:TAG] to the stored tagged name; refuses digests. */
export function normaliseTag(ref: string): string {
  const r = parseReference(ref);
  if (r.digest && !r.tag) throw new TsrunError('USAGE', `${ref} is a digest reference; a tag is needed here`);
  return taggedName({ ...r, digest: undefined })!;
}
