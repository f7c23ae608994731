/**
 * Platforms (os/arch[/variant]) as containerd's platforms package reads and
 * compares them: `--platform` values, image configs and index entries.
 */
import type { ImageConfig, Platform } from './types.js';
import { TsrunError } from '../util/errors.js';

/** containerd's normalizeArch: the names people type → GOARCH names and their default variants. */
function normalizeArch(arch: string, variant: string): { arch: string; variant: string } {
  switch (arch) {
    case 'i386':
      return { arch: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { arch: 'amd64', variant: variant === 'v1' ? '' : variant };
    case 'aarch64':
    case 'arm64':
      return { arch: 'arm64', variant: variant === '8' || variant === 'v8' ? '' : variant };
    case 'armhf':
      return { arch: 'arm', variant: 'v7' };
    case 'armel':
      return { arch: 'arm', variant: 'v6' };
    case 'arm':
      return { arch: 'arm', variant: variant === '' || variant === '7' ? 'v7' : /^[5-8]$/.test(variant) ? `v${variant}` : variant };
    default:
      return { arch, variant };
  }
}

/** The comparable form: os and arch lower-case, default variants dropped (arm64 v8 = arm64). */
export function normalizePlatform(p: Platform): Platform {
  const { arch, variant } = normalizeArch(p.architecture.toLowerCase(), (p.variant ?? '').toLowerCase());
  return { os: p.os.toLowerCase(), architecture: arch, ...(variant ? { variant } : {}) };
}

/** Parse --platform os/arch[/variant] (one platform; names normalized: aarch64 → arm64, x86_64 → amd64). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/i.test(p))) {
    throw new TsrunError('USAGE', `invalid platform ${JSON.stringify(s)}`, { hint: 'use os/arch[/variant], e.g. linux/arm64' });
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) });
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The platform an image config says it is for. */
export function imagePlatform(c: Pick<ImageConfig, 'os' | 'architecture'> & { variant?: unknown }): Platform {
  return { os: c.os, architecture: c.architecture, ...(typeof c.variant === 'string' && c.variant ? { variant: c.variant } : {}) };
}

/** Does `have` satisfy `want`? A want without a variant takes any variant of its arch (containerd's matcher). */
export function platformMatches(have: Platform, want: Platform): boolean {
  const h = normalizePlatform(have);
  const w = normalizePlatform(want);
  if (h.os !== w.os || h.architecture !== w.architecture) return false;
  return !want.variant || (h.variant ?? '') === (w.variant ?? '');
}
