/**
 * ADD's remote sources, as BuildKit's http source does them: an http(s) URL is downloaded
 * (redirects followed) into a file named after the URL's last path segment, mode 0600,
 * its mtime the response's Last-Modified (now when there is none); `--checksum=sha256:…`
 * is verified against the bytes. A downloaded file is never unpacked (docker's ADD URL).
 * Git sources (`git@…`, `git://…`, `….git`, `…#ref`) are told apart here and fetched by git-source.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { LineError } from './errors.js';

export const isHttpUrl = (s: string) => /^https?:\/\//i.test(s);

/** BuildKit's isGitURL/IsGitTransport shapes. */
export function isGitSource(s: string): boolean {
  if (/^git@[^:]+:/.test(s) || /^(git|ssh):\/\//i.test(s)) return true;
  if (/^(github\.com|gitlab\.com|bitbucket\.org)\//i.test(s)) return true;
  if (!isHttpUrl(s)) return false;
  try {
    const u = new URL(s);
    return u.pathname.endsWith('.git') || (u.hash !== '' && /\.git$/.test(u.pathname));
  } catch {
    return false;
  }
}

/** The file name a URL downloads to: its last path segment, or "__unnamed__" (BuildKit's). */
export function urlFileName(url: string): string {
  let name = '';
  try {
    name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    /* not a URL */
  }
  return name && name !== '.' && name !== '..' && !name.includes('/') ? name : '__unnamed__';
}

/** `sha256:<64 hex>` → the hex digest. */
export function parseChecksum(c: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(c);
  if (!m) throw new LineError(`invalid checksum ${JSON.stringify(c)}: expected sha256:<64 hex digits>`, 'write --checksum=sha256:DIGEST');
  return m[1]!;
}

export interface Downloaded {
  file: string;
  sha256: string;
  mtime: Date;
  /** The Last-Modified header as sent (part of the cache key; without it the mtime is the download's). */
  lastModified?: string;
}

/** Download `url` into `dir/NAME`; errors are LineErrors (the caller adds file:line). */
export async function download(url: string, dir: string, expected?: string): Promise<Downloaded> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(10 * 60_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new LineError(`ADD ${url}: failed to download: ${cause?.code ?? cause?.message ?? (e as Error).message}`, 'check the URL and the network');
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new LineError(`ADD ${url}: invalid response status ${res.status}`, 'check the URL');
  }
  const file = path.join(dir, urlFileName(url));
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      h.update(chunk);
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(fd, chunk, off);
    }
  } catch (e) {
    throw new LineError(`ADD ${url}: download interrupted: ${(e as Error).message}`, 'try again');
  } finally {
    fs.closeSync(fd);
  }
  const sum = h.digest('hex');
  if (expected !== undefined && sum !== expected) {
    throw new LineError(`ADD ${url}: digest mismatch sha256:${sum}: sha256:${expected}`, 'the file at the URL is not the one --checksum names');
  }
  const lm = res.headers.get('last-modified');
  const parsed = lm ? new Date(lm) : undefined;
  const mtime = parsed && !Number.isNaN(parsed.getTime()) ? parsed : new Date();
  fs.chmodSync(file, 0o600);
  fs.utimesSync(file, mtime, mtime);
  return { file, sha256: sum, mtime, lastModified: parsed && !Number.isNaN(parsed.getTime()) ? lm! : undefined };
}
