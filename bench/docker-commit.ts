/**
 * `docker commit` of the commit benchmark's diff, measured in the same run as tsrun's: a private
 * dockerd (test/helpers/dockerd.ts: its own data root, no bridge, no iptables) gets the busybox
 * image tsrun uses (`tsrun save` → `docker load`), n containers each write the diff with the same
 * script tsrun's containers ran, and each is committed once; the best time counts. The daemon is
 * stopped and its directory removed even when a step fails.
 */
import path from 'node:path';
import { tsrunOk } from '../test/helpers/cli.js';
import { startDockerd } from '../test/helpers/dockerd.js';

export interface DockerCommit {
  /** Best `docker commit` wall time in seconds. */
  seconds: number;
  /** The daemon's storage driver (overlay2, or vfs when overlay2 was refused: far slower). */
  driver: string;
}

export function dockerCommit(o: { root: string; scratch: string; srcDir: string; script: string; n: number }): DockerCommit {
  const dk = startDockerd(path.join(o.scratch, 'dockerd'));
  try {
    const bb = path.join(o.scratch, 'busybox-for-docker.tar');
    tsrunOk(o.root, ['save', '-o', bb, 'busybox']);
    dk.docker(['load', '-q', '-i', bb]);
    let best = Infinity;
    for (let i = 0; i < o.n; i++) {
      dk.docker(['run', '--name', `big${i}`, '--network', 'none', '-v', `${o.srcDir}:/src:ro`, 'busybox', 'sh', '-c', o.script]);
      const t0 = performance.now();
      dk.docker(['commit', `big${i}`, `big:${i}`]);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    return { seconds: best, driver: dk.driver };
  } finally {
    dk.stop();
  }
}
