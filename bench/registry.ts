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

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
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
    const root2 = path.join(base, 'root2');
    const tPull = time(() => tsrunOk(root2, ['pull', `${reg.host}/tsrun/big:1`], { env, timeoutMs: 600_000 }));
    console.log(`tsrun  push ${fmt(tPush)}   pull ${fmt(tPull)}   (image ${(fs.statSync(tar).size / 1e6).toFixed(0)} MB uncompressed)`);
    if (!p) {
      console.log('podman not installed: no comparison');
      return;
    }
    p.run(['import', tar, 'localhost/big:1']);
    const pPush = time(() => p.run(['push', '--tls-verify=false', 'localhost/big:1', `${reg.host}/podman/big:1`], { timeoutMs: 600_000 }));
    p.run(['rmi', '-a', '-f'], { allowFail: true });
    const pPull = time(() => p.run(['pull', '--tls-verify=false', `${reg.host}/tsrun/big:1`], { timeoutMs: 600_000 }));
    console.log(`podman push ${fmt(pPush)}   pull ${fmt(pPull)}`);
    console.log(`tsrun vs podman: push ${ratio(tPush, pPush)} faster, pull ${ratio(tPull, pPull)} faster (>1 means tsrun wins)`);
  } finally {
    p?.cleanup();
    reg.stop();
    cleanupDir(base);
  }
}

// `node dist/bench/registry.js` runs it alone
if (process.argv[1] && /bench\/registry\.js$/.test(process.argv[1])) void benchRegistry();
