/** Helpers shared by the runtime's integration tests. */
import fs from 'node:fs';
import path from 'node:path';

/** Detached containers outlive the test otherwise (their root is not under the temp dir once pivoted). */
export function killContainers(root: string): void {
  const dir = path.join(root, 'containers');
  for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    try {
      const st = JSON.parse(fs.readFileSync(path.join(dir, id, 'state.json'), 'utf8'));
      for (const pid of [st.pid, st.monitorPid]) if (pid) process.kill(pid, 'SIGKILL');
    } catch {
      /* not running */
    }
  }
}

