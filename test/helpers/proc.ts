/** Process checks for tests that watch processes tsrun started. */
import { procState } from '../../src/containers/status.js';

/**
 * Whether pid is a live process: not gone, not a zombie. Never throws — reading /proc of a process
 * that exits mid-read fails with ESRCH, which a bare readFileSync would turn into a test failure.
 */
export function alive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}
