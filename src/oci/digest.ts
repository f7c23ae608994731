/** Digests: parsing, validation and hashing helpers. Pure except for hashing. */
import { TsrunError } from '../util/errors.js';
import { crypto } from '../util/builtins.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const SHA512_RE = /^sha512:[a-f0-9]{128}$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s) || SHA512_RE.test(s);
}

/** Throws INVALID_ARCHIVE unless `s` is a well-formed sha256 (or sha512) digest. */
export function checkDigest(s: unknown, what = 'digest'): string {
  if (typeof s !== 'string' || !isDigest(s)) {
    throw new TsrunError('INVALID_ARCHIVE', `invalid ${what}: ${JSON.stringify(s)?.slice(0, 80)}`);
  }
  return s;
}

export function algorithm(d: string): 'sha256' | 'sha512' {
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function encoded(d: string): string {
  return d.slice(d.indexOf(':') + 1);
}

export function sha256(data: string | Uint8Array): string {
  return 'sha256:' + crypto().createHash('sha256').update(data).digest('hex');
}

/**
 * chain ID of a layer stack, as the OCI spec defines it:
 * ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

export function shortId(digest: string, len = 12): string {
  return encoded(digest).slice(0, len);
}
