/**
 * A client for one registry endpoint (OCI distribution spec v2): manifests,
 * blobs, uploads, cross-repo mounts and tag lists. Every request goes
 * through `send`, which adds authorisation and answers one 401 challenge.
 * Errors are TsrunErrors naming what was asked for: 404 → NOT_FOUND,
 * 401/403 → AUTH (hint: tsrun login), transport failures → NETWORK, other
 * statuses → REGISTRY.
 */
import { PassThrough, Readable } from 'node:stream';
import { TsrunError } from '../util/errors.js';
import { sha256 } from '../oci/digest.js';
import { MT } from '../oci/mediatypes.js';
import { Authorizer, authError } from './auth.js';
import type { Endpoint } from './settings.js';
import { readBounded, registryErrorText, request, networkError } from './transport.js';

/** Manifests are small; anything above this is refused unread (TOO_LARGE). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export const MANIFEST_ACCEPT = [MT.OCI_MANIFEST, MT.OCI_INDEX, MT.DOCKER_MANIFEST, MT.DOCKER_MANIFEST_LIST].join(', ');

export interface FetchedManifest {
  bytes: Buffer;
  /** Content-Type the registry sent (or the mediaType field when it sent none useful). */
  mediaType: string;
  /** sha256 of the bytes as received. */
  digest: string;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  stream?: AsyncIterable<Uint8Array>;
  scopes: string[];
  what: string;
}

export const pullScope = (repo: string) => `repository:${repo}:pull`;
export const pushScope = (repo: string) => `repository:${repo}:pull,push`;

export class RegistryClient {
  /** Requests sent, for tests and the bench. */
  requests = 0;

  constructor(
    readonly endpoint: Endpoint,
    /** registry name (docker.io, 127.0.0.1:5000) for messages */
    readonly registry: string,
    readonly auth: Authorizer,
  ) {}

  private url(pathOrUrl: string): string {
    return new URL(pathOrUrl, this.endpoint.base + '/').toString();
  }

  /** Send with authorisation; answers a 401 once (twice for token refresh), then reports AUTH. */
  async send(pathOrUrl: string, o: SendOptions): Promise<Response> {
    const url = this.url(pathOrUrl);
    for (let round = 0; ; round++) {
      const headers: Record<string, string> = { ...o.headers };
      const a = this.auth.header(o.scopes);
      if (a) headers.authorization = a;
      this.requests++;
      const res = await request(url, { method: o.method, headers, body: o.body, stream: o.stream, what: o.what });
      if (res.status !== 401 || round >= 2 || o.stream) {
        if (res.status === 401 || res.status === 403) throw authError(this.registry, this.auth.hasCredentials, await registryErrorText(res));
        return res;
      }
      if (!(await this.auth.answer(res, o.scopes))) throw authError(this.registry, this.auth.hasCredentials);
    }
  }

  /** GET /v2/: is this a registry, and do our credentials work? */
  async ping(): Promise<void> {
    const res = await this.send('/v2/', { scopes: [], what: `registry ${this.registry}` });
    await res.body?.cancel().catch(() => {});
    if (!res.ok) throw await this.fail(res, `registry ${this.registry}`);
  }

  /** A manifest or index by tag or digest, bounded to 4 MiB. */
  async getManifest(repo: string, ref: string, what: string): Promise<FetchedManifest> {
    const res = await this.send(`/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT }, scopes: [pullScope(repo)], what });
    if (!res.ok) throw await this.fail(res, what, 'manifest unknown');
    const bytes = await readBounded(res, MAX_MANIFEST_BYTES, what);
    const ct = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { bytes, mediaType: ct, digest: sha256(bytes) };
  }

  /** A blob as a stream (redirects to storage are followed). The caller verifies digest and size. */
  async getBlob(repo: string, digest: string, what: string): Promise<Readable> {
    const res = await this.send(`/v2/${repo}/blobs/${digest}`, { scopes: [pullScope(repo)], what });
    if (!res.ok) throw await this.fail(res, what, 'blob unknown');
    if (!res.body) return Readable.from([]);
    const url = res.url || this.url(`/v2/${repo}/blobs/${digest}`);
    const src = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>, { highWaterMark: 1 << 20 });
    // name transport failures mid-body (a cut connection) like any other network error
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    src.on('error', (err) => out.destroy(networkError(url, what, err)));
    out.on('close', () => src.destroy());
    src.pipe(out);
    return out;
  }

  /** Blob small enough to hold in memory (configs), bounded. */
  async getBlobBytes(repo: string, digest: string, max: number, what: string): Promise<Buffer> {
    const res = await this.send(`/v2/${repo}/blobs/${digest}`, { scopes: [pullScope(repo)], what });
    if (!res.ok) throw await this.fail(res, what, 'blob unknown');
    return readBounded(res, max, what);
  }

  async hasBlob(repo: string, digest: string, scopes = [pushScope(repo)]): Promise<boolean> {
    const what = `blob ${digest} in ${this.registry}/${repo}`;
    const res = await this.send(`/v2/${repo}/blobs/${digest}`, { method: 'HEAD', scopes, what });
    await res.body?.cancel().catch(() => {});
    if (res.status === 404) return false;
    if (res.ok) return true;
    throw await this.fail(res, what);
  }

  /** Try a cross-repository mount; true when the registry mounted it (201). */
  async mountBlob(repo: string, digest: string, from: string): Promise<boolean> {
    const what = `mount of ${digest} from ${from} into ${this.registry}/${repo}`;
    const res = await this.send(`/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
      method: 'POST',
      scopes: [pushScope(repo), pullScope(from)],
      what,
    });
    await res.body?.cancel().catch(() => {});
    if (res.status === 201) return true;
    if (res.status === 202) {
      // the registry started a normal upload instead: cancel it, we start our own
      const loc = res.headers.get('location');
      if (loc) await this.send(loc, { method: 'DELETE', scopes: [pushScope(repo)], what }).then((r) => r.body?.cancel().catch(() => {}), () => {});
      return false;
    }
    if (res.status === 404 || res.status === 405) return false;
    throw await this.fail(res, what);
  }

  /**
   * Upload a blob. `size` ≤ chunkSize: one POST + PUT ?digest= (monolithic).
   * Larger: POST, PATCH chunks with Content-Range, then PUT ?digest=.
   * `read(offset, length)` returns the bytes of the blob at offset.
   */
  async uploadBlob(
    repo: string,
    digest: string,
    size: number,
    read: (offset: number, length: number) => Promise<Buffer>,
    chunkSize = Number(process.env.TSRUN_UPLOAD_CHUNK) || 32 * 1024 * 1024,
    onProgress?: (done: number) => void,
  ): Promise<void> {
    const what = `upload of ${digest} to ${this.registry}/${repo}`;
    const scopes = [pushScope(repo)];
    const start = await this.send(`/v2/${repo}/blobs/uploads/`, { method: 'POST', scopes, what, headers: { 'content-length': '0' } });
    await start.body?.cancel().catch(() => {});
    if (start.status !== 202) throw await this.fail(start, what);
    let location = this.locationOf(start, what);
    let offset = 0;
    let last: Buffer | undefined;
    if (size <= chunkSize) {
      last = await read(0, size);
    } else {
      while (offset < size) {
        const len = Math.min(chunkSize, size - offset);
        const chunk = await read(offset, len);
        const res = await this.send(location, {
          method: 'PATCH',
          scopes,
          what,
          body: chunk,
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + len - 1}` },
        });
        await res.body?.cancel().catch(() => {});
        if (res.status !== 202) throw await this.fail(res, what);
        location = this.locationOf(res, what);
        offset += len;
        onProgress?.(offset);
      }
    }
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const res = await this.send(u.toString(), {
      method: 'PUT',
      scopes,
      what,
      body: last ?? Buffer.alloc(0),
      headers: { 'content-type': 'application/octet-stream' },
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await this.fail(res, what);
    onProgress?.(size);
  }

  /**
   * Upload a blob whose digest is not known yet (compressed while it is
   * sent): POST, one streamed PATCH, then `commit(digest)` PUTs ?digest=
   * once the caller has hashed what went through.
   */
  async uploadStream(repo: string, body: AsyncIterable<Uint8Array>): Promise<{ commit(digest: string): Promise<void> }> {
    const what = `upload to ${this.registry}/${repo}`;
    const scopes = [pushScope(repo)];
    const start = await this.send(`/v2/${repo}/blobs/uploads/`, { method: 'POST', scopes, what, headers: { 'content-length': '0' } });
    await start.body?.cancel().catch(() => {});
    if (start.status !== 202) throw await this.fail(start, what);
    const res = await this.send(this.locationOf(start, what), { method: 'PATCH', scopes, what, stream: body, headers: { 'content-type': 'application/octet-stream' } });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 202) throw await this.fail(res, what);
    const location = this.locationOf(res, what);
    return {
      commit: async (digest: string) => {
        const u = new URL(location);
        u.searchParams.set('digest', digest);
        const put = await this.send(u.toString(), { method: 'PUT', scopes, what, body: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' } });
        await put.body?.cancel().catch(() => {});
        if (put.status !== 201 && put.status !== 204 && put.status !== 200) throw await this.fail(put, what);
      },
    };
  }

  private locationOf(res: Response, what: string): string {
    const loc = res.headers.get('location');
    if (!loc) throw new TsrunError('REGISTRY', `${what}: the registry sent no upload location`);
    return this.url(loc);
  }

  /** PUT a manifest; returns the digest the registry reports (or ours). */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const what = `manifest ${this.registry}/${repo}:${ref}`;
    const res = await this.send(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', scopes: [pushScope(repo)], what, body: bytes, headers: { 'content-type': mediaType } });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await this.fail(res, what);
    await res.body?.cancel().catch(() => {});
    return res.headers.get('docker-content-digest') ?? sha256(bytes);
  }

  /** All tags of a repository (follows Link pagination). */
  async listTags(repo: string): Promise<string[]> {
    const what = `tags of ${this.registry}/${repo}`;
    const tags: string[] = [];
    let next: string | undefined = `/v2/${repo}/tags/list?n=1000`;
    for (let page = 0; next && page < 100; page++) {
      const res = await this.send(next, { scopes: [pullScope(repo)], what });
      if (!res.ok) throw await this.fail(res, what, 'repository unknown');
      const buf = await readBounded(res, 16 * 1024 * 1024, what);
      let v: { tags?: unknown };
      try {
        v = JSON.parse(buf.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new TsrunError('REGISTRY', `${what}: the registry answered with invalid JSON`);
      }
      if (v.tags !== null && v.tags !== undefined) {
        if (!Array.isArray(v.tags) || !v.tags.every((t) => typeof t === 'string')) throw new TsrunError('REGISTRY', `${what}: malformed tag list`);
        tags.push(...(v.tags as string[]));
      }
      const link = res.headers.get('link');
      const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      next = m ? m[1] : undefined;
    }
    return tags;
  }

  /** A TsrunError for a response that is not what we asked for. */
  async fail(res: Response, what: string, notFoundText = 'not found'): Promise<TsrunError> {
    const text = await registryErrorText(res);
    if (res.status === 404) return new TsrunError('NOT_FOUND', `${what}: ${text ?? notFoundText}`, { hint: 'check the name and tag' });
    if (res.status === 401 || res.status === 403) return authError(this.registry, this.auth.hasCredentials, text);
    if (res.status === 429) return new TsrunError('REGISTRY', `${what}: too many requests to ${this.registry}`, { hint: 'wait and try again' });
    return new TsrunError('REGISTRY', `${what}: ${this.registry} answered ${res.status}${text ? ` (${text})` : ''}`, { hint: 'try again later' });
  }
}
