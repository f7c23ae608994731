/**
 * `tsrun version`: what this tsrun is, under docker's field names
 * (types.Version) so `--format '{{.Client.Version}}'` works. tsrun has no
 * server: `.Server` holds the same facts as `.Client` (as podman's local
 * `version` does), so scripts that read `{{.Server.Version}}` get tsrun's.
 *
 * The git commit and build time are written by scripts/bundle.js into
 * dist/build-info.json at build time; libseccomp's version is the one
 * tsrun-runtime (and tsrun-init, built alike) links, as `tsrun-runtime --version` says.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { nativeBuildDir } from '../native.js';
import { os } from '../util/builtins.js';

export const TSRUN_VERSION = '0.1.0';

export interface ComponentVersion {
  Name: string;
  Version: string;
}

export interface VersionInfo {
  Platform: { Name: string };
  Version: string;
  GitCommit: string;
  BuildTime: string;
  NodeVersion: string;
  LibseccompVersion: string;
  OciSpecVersion: string;
  Os: string;
  Arch: string;
  Components: ComponentVersion[];
}

/** Go's GOARCH names for Node's process.arch. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

function buildInfo(): { gitCommit: string; built: string } {
  // nativeBuildDir() is REPO/build/Release whichever way tsrun runs (bundle or tsc output)
  try {
    const j = JSON.parse(fs.readFileSync(path.resolve(nativeBuildDir(), '..', '..', 'dist', 'build-info.json'), 'utf8')) as { gitCommit?: string; built?: string };
    return { gitCommit: j.gitCommit || 'unknown', built: j.built ?? '' };
  } catch {
    return { gitCommit: 'unknown', built: '' };
  }
}

/** "libseccomp: 2.5.4" and "spec: 1.2.0" from tsrun-runtime --version (runc's lines). */
function runtimeVersions(): { libseccomp: string; spec: string } {
  const r = spawnSync(path.join(nativeBuildDir(), 'tsrun-runtime'), ['--version'], { encoding: 'utf8', timeout: 5000 });
  const out = r.stdout ?? '';
  return {
    libseccomp: /^libseccomp: (\S+)$/m.exec(out)?.[1] ?? 'unknown',
    spec: /^spec: (\S+)$/m.exec(out)?.[1] ?? 'unknown',
  };
}

export function versionInfo(): VersionInfo {
  const b = buildInfo();
  const rt = runtimeVersions();
  const built = b.built ? new Date(b.built) : undefined;
  return {
    Platform: { Name: 'tsrun' },
    Version: TSRUN_VERSION,
    GitCommit: b.gitCommit,
    // Go's time.ANSIC, as docker prints its build time
    BuildTime: built && !Number.isNaN(built.getTime()) ? ansic(built) : '',
    NodeVersion: process.version,
    LibseccompVersion: rt.libseccomp,
    OciSpecVersion: rt.spec,
    Os: os().platform(),
    Arch: GOARCH[process.arch] ?? process.arch,
    Components: [
      { Name: 'tsrun-runtime', Version: TSRUN_VERSION },
      { Name: 'libseccomp', Version: rt.libseccomp },
    ],
  };
}

/** "Mon Jan  2 15:04:05 2006" in UTC. */
function ansic(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}
