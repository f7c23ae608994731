/**
 * Image references, normalised the way docker does:
 *   ubuntu                → docker.io/library/ubuntu:latest
 *   user/app:1            → docker.io/user/app:1
 *   localhost:5000/x      → localhost:5000/x:latest
 *   name@sha256:…         → digest reference (tag optional alongside)
 * Pure: no I/O. Grammar from distribution/reference.
 */
import { TsrunError } from '../util/errors.js';
import { isDigest } from './digest.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';

export interface Reference {
  /** Registry host[:port], e.g. docker.io, localhost:5000 */
  registry: string;
  /** Repository path inside the registry, e.g. library/ubuntu */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

function bad(ref: string, why: string): TsrunError {
  return new TsrunError('INVALID_REFERENCE', `invalid reference format ${JSON.stringify(ref)}: ${why}`, {
    hint: 'references look like NAME[:TAG][@sha256:DIGEST], e.g. ubuntu:22.04 or localhost:5000/app:1',
  });
}

function isDomain(s: string): boolean {
  // host[:port] or [ipv6]:port
  if (s.startsWith('[')) return /^\[[0-9a-fA-F:.]+\](?::\d+)?$/.test(s);
  const [host, port, ...rest] = s.split(':');
  if (rest.length || (port !== undefined && !/^\d+$/.test(port))) return false;
  return host!.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

/** Parse and normalise. Throws INVALID_REFERENCE on anything docker would refuse. */
export function parseReference(input: string): Reference {
  const ref = input.trim();
  if (!ref) throw bad(input, 'empty');
  if (ref.length > 255 + 128 + 80) throw bad(input, 'too long');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad(input, 'invalid digest');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, 'invalid tag');
  }
  if (!rest) throw bad(input, 'missing repository name');
  let registry = DEFAULT_REGISTRY;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if ((first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) && isDomain(first)) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  if (repository.length > 255) throw bad(input, 'repository name too long');
  for (const c of repository.split('/')) {
    if (!COMPONENT.test(c)) {
      throw bad(input, /[A-Z]/.test(c) ? 'repository name must be lowercase' : `invalid path component ${JSON.stringify(c)}`);
    }
  }
  if (!tag && !digest) tag = DEFAULT_TAG;
  return { registry, repository, tag, digest };
}

/** registry/repository, e.g. docker.io/library/ubuntu */
export function repoName(r: Reference): string {
  return `${r.registry}/${r.repository}`;
}

/** Full normalised string: docker.io/library/ubuntu:latest, or …@sha256:… */
export function formatReference(r: Reference): string {
  let s = repoName(r);
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}

/** Shortened the way `docker images` shows repositories: drops docker.io/ and library/. */
export function familiarName(repo: string): string {
  if (repo.startsWith(`${DEFAULT_REGISTRY}/library/`)) return repo.slice(`${DEFAULT_REGISTRY}/library/`.length);
  if (repo.startsWith(`${DEFAULT_REGISTRY}/`)) return repo.slice(`${DEFAULT_REGISTRY}/`.length);
  return repo;
}

/** The tagged name `repo:tag` of a reference (used as the key in the image store). */
export function taggedName(r: Reference): string | undefined {
  return r.tag ? `${repoName(r)}:${r.tag}` : undefined;
}

/** Split a stored `registry/repo:tag` name into repository and tag. */
export function splitTagged(name: string): { repository: string; tag: string } {
  const colon = name.lastIndexOf(':');
  const slash = name.lastIndexOf('/');
  if (colon > slash) return { repository: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repository: name, tag: DEFAULT_TAG };
}
