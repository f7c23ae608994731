/**
 * Registry benchmark: push and pull of the ~100 MB image (bench/fixture.ts)
 * to and from a local docker-registry, tsrun next to podman. Push includes
 * gzip compression of the uncompressed layer for both (podman push of an
 * imported image compresses too); each pull starts from an empty store.
 * Targets: pull no slower than podman, push faster.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bigRootfsTar } from './fixture.js';
import { cleanupDir, tsrunOk } from '../test/helpers/cli.js';
import { have, podman } from '../test/helpers/peers.js';
import { startRegistry } from '../test/helpers/registry.js';

/** CPU seconds (user, sys) of the children this process has waited for: cutime/cstime of /proc/self/stat. */
function childCpu(): { user: number; sys: number } {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  const hz = 100; // USER_HZ; the same on every Linux ABI Node runs on
  return { user: Number(f[13]) / hz, sys: Number(f[14]) / hz };
}

let lastCpu = '';

/** Wall seconds of fn (a spawnSync of the tool); the tool's own CPU goes to lastCpu (registry not included). */
function time(fn: () => void): number {
  const c = childCpu();
  const t = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  const d = childCpu();
  lastCpu = `(user ${(d.user - c.user).toFixed(2)}s sys ${(d.sys - c.sys).toFixed(2)}s)`;
  return wall;
}

/**
 * podman's blob-info cache remembers which blobs a registry has and which
 * compressed blob belongs to an uncompressed one, so a repeat push could skip
 * work: remove it so each push does the whole job, as tsrun's does here.
 * Root podman keeps it in /var/lib/containers/cache; libimage puts it under
 * the graph root when that is not the default.
 */
function dropPodmanBlobCache(podmanDir: string): void {
  for (const f of ['/var/lib/containers/cache/blob-info-cache-v1.boltdb', path.join(podmanDir, 'graph', 'cache', 'blob-info-cache-v1.boltdb')]) {
    fs.rmSync(f, { force: true });
  }
}

const fmt = (s: number) => `${s.toFixed(2)}s`;
const ratio = (a: number, b: number) => `${(b / a).toFixed(2)}x`;

export async function benchRegistry(): Promise<void> {
  const tar = await bigRootfsTar();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-reg-'));
  const reg = await startRegistry(path.join(base, 'reg'));
  const env = { TSRUN_REGISTRIES_CONF: path.join(base, 'none.json'), DOCKER_CONFIG: path.join(base, 'docker') };
  const p = have('podman') ? podman(base) : undefined;
  try {
    const root1 = path.join(base, 'root1');
    tsrunOk(root1, ['import', tar, 'big:1']);
    tsrunOk(root1, ['tag', 'big:1', `${reg.host}/tsrun/big:1`]);
    const tPush = time(() => tsrunOk(root1, ['push', `${reg.host}/tsrun/big:1`], { env, timeoutMs: 600_000 }));
    const tPushCpu = lastCpu;
    const root2 = path.join(base, 'root2');
    const tPull = time(() => tsrunOk(root2, ['pull', `${reg.host}/tsrun/big:1`], { env, timeoutMs: 600_000 }));
    console.log(`tsrun  push ${fmt(tPush)} ${tPushCpu}   pull ${fmt(tPull)} ${lastCpu}   (image ${(fs.statSync(tar).size / 1e6).toFixed(0)} MB uncompressed)`);
    if (!p) {
      console.log('podman not installed: no comparison');
      return;
    }
    p.run(['import', tar, 'localhost/big:1']);
    dropPodmanBlobCache(p.dir);
    const pPush = time(() => p.run(['push', '--tls-verify=false', 'localhost/big:1', `${reg.host}/podman/big:1`], { timeoutMs: 600_000 }));
    const pPushCpu = lastCpu;
    p.run(['rmi', '-a', '-f'], { allowFail: true });
    dropPodmanBlobCache(p.dir);
    const pPull = time(() => p.run(['pull', '--tls-verify=false', `${reg.host}/tsrun/big:1`], { timeoutMs: 600_000 }));
    console.log(`podman push ${fmt(pPush)} ${pPushCpu}   pull ${fmt(pPull)} ${lastCpu}`);
    console.log(`tsrun vs podman: push ${ratio(tPush, pPush)} faster, pull ${ratio(tPull, pPull)} faster (>1 means tsrun wins)`);
  } finally {
    p?.cleanup();
    reg.stop();
    cleanupDir(base);
  }
}

// `node dist/bench/registry.js` runs it alone
if (process.argv[1] && /bench\/registry\.js$/.test(process.argv[1])) void benchRegistry();
