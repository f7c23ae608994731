/**
 * Registries for tests: Debian's docker-registry (distribution 2.8) on
 * 127.0.0.1 with its storage in a temp dir, in three variants (plain,
 * htpasswd basic auth, bearer tokens from token-issuer.ts), plus helpers that
 * build OCI layouts from the busybox rootfs and put them there with skopeo.
 * Every process started here is stopped by `stop()` (by PID).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { busyboxTar } from './cli.js';
import { freePort } from './ports.js';

export { freePort };

const here = path.dirname(fileURLToPath(import.meta.url));

export type AuthMode = 'none' | 'basic' | 'token';

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  dir: string;
  /** The registry's storage root (docker/registry/v2/…). */
  dataDir: string;
  user: string;
  pass: string;
  /** The registry's log so far (access log lines included). */
  log(): string;
  /**
   * The log including the lines of every request answered so far. The registry writes a request's
   * access-log line after its handler returns, which for a blob is after the client has read the
   * whole body: a line can lag the response the client saw. A marker request answered (and logged)
   * after them closes the gap.
   */
  logSynced(): Promise<string>;
  /** Token issuer request log (token mode). */
  tokenLog(): string;
  stop(): void;
}

/** How long a server started here may take to answer (node or docker-registry start-up on a loaded machine). */
const START_MS = 60_000;

/** Wait until fn() is true; give up early once `gone()` says the server exited. */
async function waitFor(fn: () => Promise<boolean> | boolean, what: string, gone: () => boolean = () => false, ms = START_MS): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (gone()) throw new Error(`${what} exited before it was ready`);
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function kill(p: ChildProcess | undefined): void {
  if (p?.pid && p.exitCode === null) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Start a helper script (compiled next to this file) that writes its port to a file. */
async function startScript(dir: string, script: string, args: string[]): Promise<{ proc: ChildProcess; port: number; portFile: string }> {
  const portFile = path.join(dir, `${script}-${crypto.randomBytes(3).toString('hex')}.port`);
  const proc = spawn(process.execPath, [path.join(here, `${script}.js`), portFile, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  // the script listens on port 0 and then renames its port file into place (writePortFile)
  await waitFor(() => fs.existsSync(portFile), script, () => proc.exitCode !== null || proc.signalCode !== null);
  return { proc, port: Number(fs.readFileSync(portFile, 'utf8')), portFile };
}

export async function startRegistry(dir: string, auth: AuthMode = 'none'): Promise<TestRegistry> {
  fs.mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const user = 'tester';
  const pass = 'secret-pass';
  let authYaml = '';
  let issuer: { proc: ChildProcess; port: number; portFile: string } | undefined;
  if (auth === 'basic') {
    const h = spawnSync('htpasswd', ['-Bbn', user, pass]);
    if (h.status !== 0) throw new Error(`htpasswd failed: ${h.stderr}`);
    fs.writeFileSync(path.join(dir, 'htpasswd'), h.stdout);
    authYaml = `auth:\n  htpasswd:\n    realm: tsrun-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const o = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=tsrun-test-issuer']);
    if (o.status !== 0) throw new Error(`openssl failed: ${o.stderr}`);
    const users = path.join(dir, 'users.json');
    fs.writeFileSync(users, JSON.stringify({ [user]: pass }));
    issuer = await startScript(dir, 'token-issuer', [key, cert, users, 'tsrun-test-registry', 'tsrun-test-issuer']);
    authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${issuer.port}/token\n    service: tsrun-test-registry\n    issuer: tsrun-test-issuer\n    rootcertbundle: ${cert}\n`;
  }
  const conf = path.join(dir, 'config.yml');
  const logFile = path.join(dir, 'registry.log');
  let port = 0;
  let proc: ChildProcess | undefined;
  const stop = () => {
    kill(proc);
    kill(issuer?.proc);
  };
  // a port picked a moment before may be taken meanwhile (ports.ts): a new one then
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    fs.writeFileSync(
      conf,
      `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: ${dataDir}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${authYaml}`,
    );
    const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const fd = fs.openSync(logFile, 'a');
    const p = spawn('docker-registry', ['serve', conf], { stdio: ['ignore', fd, fd] });
    proc = p;
    fs.closeSync(fd);
    try {
      await waitFor(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/v2/`);
          await r.body?.cancel();
          return r.status === 200 || r.status === 401;
        },
        'docker-registry',
        () => p.exitCode !== null || p.signalCode !== null,
      );
      break;
    } catch (err) {
      kill(p);
      const tail = fs.readFileSync(logFile, 'utf8').slice(logStart);
      if (attempt < 5 && /address already in use/.test(tail)) continue;
      stop();
      throw new Error(`${(err as Error).message}: ${tail.slice(-2000)}`);
    }
  }
  /** The log once the registry has written every line of what it answered so far (see logSynced). */
  const logSynced = async (): Promise<string> => {
    const mark = `tsrun-test-mark-${crypto.randomBytes(6).toString('hex')}`;
    const r = await fetch(`http://127.0.0.1:${port}/v2/?${mark}`);
    await r.body?.cancel();
    let log = '';
    await waitFor(() => (log = fs.readFileSync(logFile, 'utf8')).includes(mark), 'the registry to log a request');
    return log;
  };
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    dataDir,
    user,
    pass,
    log: () => fs.readFileSync(logFile, 'utf8'),
    logSynced,
    tokenLog: () => (issuer && fs.existsSync(`${issuer.portFile}.log`) ? fs.readFileSync(`${issuer.portFile}.log`, 'utf8') : ''),
    stop,
  };
}

/** Start connect-proxy.js: an HTTP proxy (CONNECT and forwarding) that sends every host to 127.0.0.1. */
export async function startHttpProxy(dir: string): Promise<{ url: string; stop(): void; log(): string }> {
  const p = await startScript(dir, 'connect-proxy', []);
  const logFile = `${p.portFile}.log`;
  return { url: `http://127.0.0.1:${p.port}`, stop: () => kill(p.proc), log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '') };
}

/** Start registry-proxy.js in MODE; returns its host and a stop function. */
export async function startProxy(
  dir: string,
  mode: 'cut-blobs' | 'nonjson' | 'huge' | 'huge-nolength' | 'flaky',
  upstream?: string,
): Promise<{ host: string; stop(): void; log(): string }> {
  const p = await startScript(dir, 'registry-proxy', upstream ? [mode, upstream] : [mode]);
  const logFile = `${p.portFile}.log`;
  return { host: `127.0.0.1:${p.port}`, stop: () => kill(p.proc), log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '') };
}

const sha = (b: Buffer | string) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

function writeBlob(layout: string, data: Buffer | string): { digest: string; size: number } {
  const buf = Buffer.from(data);
  const d = sha(buf);
  fs.writeFileSync(path.join(layout, 'blobs', 'sha256', d.slice(7)), buf);
  return { digest: d, size: buf.length };
}

export interface LayoutImage {
  /** Digest of what index.json points at (manifest or image index). */
  digest: string;
  /** Per-architecture manifest digests. */
  manifests: Record<string, string>;
  configs: Record<string, string>;
  layerDigest: string;
  diffId: string;
}

/**
 * Write an OCI layout at `layout` holding the busybox rootfs as one layer
 * (compressed as asked) for each architecture; with more than one, the
 * layout's entry is an image index. `extra` adds a file to make a distinct image.
 * `rootfs` gives an architecture its own rootfs tarball (a real arm64 busybox);
 * the others get this machine's busybox.
 */
export function buildLayout(layout: string, opts: { compression?: 'gzip' | 'zstd' | 'none'; arches?: string[]; tag?: string; label?: string; rootfs?: Record<string, string> } = {}): LayoutImage {
  const compression = opts.compression ?? 'gzip';
  const arches = opts.arches ?? ['amd64'];
  fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layerOf = (tarFile: string) => {
    const tar = fs.readFileSync(tarFile);
    let layer: Buffer;
    let mediaType: string;
    if (compression === 'gzip') {
      layer = zlib.gzipSync(tar);
      mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
    } else if (compression === 'zstd') {
      const z = spawnSync('zstd', ['-c', '-q', '-3'], { input: tar, maxBuffer: 1 << 28 });
      if (z.status !== 0) throw new Error('zstd failed');
      layer = z.stdout;
      mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd';
    } else {
      layer = tar;
      mediaType = 'application/vnd.oci.image.layer.v1.tar';
    }
    return { diffId: sha(tar), l: writeBlob(layout, layer), mediaType };
  };
  const { diffId, l, mediaType } = layerOf(busyboxTar());
  const manifests: Record<string, string> = {};
  const configs: Record<string, string> = {};
  const descs: object[] = [];
  for (const arch of arches) {
    const own = opts.rootfs?.[arch] ? layerOf(opts.rootfs[arch]!) : { diffId, l, mediaType };
    const config = {
      created: '2024-01-01T00:00:00Z',
      architecture: arch,
      os: 'linux',
      ...(arch === 'arm64' ? { variant: 'v8' } : {}),
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: opts.label ? { test: opts.label } : undefined },
      rootfs: { type: 'layers', diff_ids: [own.diffId] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'busybox rootfs' }],
    };
    const c = writeBlob(layout, JSON.stringify(config));
    const m = writeBlob(
      layout,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
        layers: [{ mediaType: own.mediaType, ...own.l }],
      }),
    );
    manifests[arch] = m.digest;
    configs[arch] = c.digest;
    descs.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, platform: { architecture: arch, os: 'linux', ...(arch === 'arm64' ? { variant: 'v8' } : {}) } });
  }
  let top: { digest: string; size: number; mediaType: string };
  if (arches.length === 1) top = { ...(descs[0] as { digest: string; size: number }), mediaType: 'application/vnd.oci.image.manifest.v1+json' };
  else top = { ...writeBlob(layout, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descs })), mediaType: 'application/vnd.oci.image.index.v1+json' };
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'org.opencontainers.image.ref.name': opts.tag ?? 'latest' } }] }),
  );
  return { digest: top.digest, manifests, configs, layerDigest: l.digest, diffId };
}

/** skopeo copy oci:LAYOUT:TAG docker://HOST/REPO:TAG (format: keep, v2s2 or oci). */
export function skopeoPush(layout: string, tag: string, dest: string, opts: { format?: 'v2s2' | 'oci'; multiArch?: boolean; creds?: string } = {}): void {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (opts.format) args.push('--format', opts.format);
  if (opts.multiArch) args.push('--multi-arch', 'all');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  args.push(`oci:${layout}:${tag}`, `docker://${dest}`);
  const r = spawnSync('skopeo', args, { timeout: 120_000 });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${r.stderr}`);
}

/** Path of a blob's data file in the registry's storage. */
export function registryBlobFile(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return path.join(reg.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}
