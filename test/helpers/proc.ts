/** Process checks for tests that watch processes tsrun started. */
import fs from 'node:fs';
import path from 'node:path';
import { procState, sameProcessAlive } from '../../src/containers/status.js';

/**
 * Whether pid is a live process: not gone, not a zombie. Never throws — reading /proc of a process
 * that exits mid-read fails with ESRCH, which a bare readFileSync would turn into a test failure.
 */
export function alive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/**
 * Whether every process a container's record names as acting for it is gone: its monitor (which
 * becomes `tsrun __on-exit` or `tsrun rm -f` in place when the container exits) and a restart
 * watcher waiting out a back-off. After that nothing can restart, remove or record the container
 * any more, so a test that checks that something did NOT happen waits for this, not for a guess.
 * A record that is gone (or never had a state) names nobody.
 */
export function containerAgentsGone(root: string, id: string): boolean {
  let st: { monitorPid?: number; monitorStart?: number; restarting?: { pid?: number; pidStart?: number } };
  try {
    st = JSON.parse(fs.readFileSync(path.join(root, 'containers', id, 'state.json'), 'utf8'));
  } catch {
    return true;
  }
  return !sameProcessAlive(st.monitorPid, st.monitorStart) && !sameProcessAlive(st.restarting?.pid, st.restarting?.pidStart);
}
