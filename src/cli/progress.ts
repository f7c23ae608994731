/**
 * Pull progress as docker draws it. On a TTY: one line per layer
 * ("abc123def456: Downloading 12.3MB/45.6MB 5.1MB/s", "Pull complete",
 * "Already exists") redrawn in place with ANSI cursor moves. Not a TTY: no
 * per-layer lines (logs stay short); the caller prints the result lines.
 */
import type { PullEvent } from '../ops/pull.js';
import { humanSize } from './common.js';

export interface Progress {
  onEvent: (e: PullEvent) => void;
  /** Final redraw; call before printing the result lines. */
  done(): void;
}

export function pullProgress(out: NodeJS.WriteStream, quiet = false): Progress {
  if (quiet || !out.isTTY) return { onEvent: () => {}, done: () => {} };
  const order: string[] = [];
  const lines = new Map<string, string>();
  const speed = new Map<string, { t0: number; b0: number }>();
  let drawn = 0;
  let header = '';
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    let s = drawn ? `\x1b[${drawn}A` : '';
    const all = [header, ...order.map((id) => `${id}: ${lines.get(id)}`)];
    for (const l of all) s += `\x1b[2K${l.slice(0, (out.columns || 120) - 1)}\n`;
    drawn = all.length;
    out.write(s);
  };
  const schedule = () => {
    if (!timer) timer = setTimeout(draw, 80);
  };
  return {
    onEvent(e) {
      if (e.type === 'start') {
        header = `${e.tagOrDigest}: Pulling from ${e.ref.repository.replace(/^library\//, e.ref.registry === 'docker.io' ? 'library/' : '')}`;
        schedule();
        return;
      }
      if (!lines.has(e.id)) order.push(e.id);
      if (e.status === 'Downloading' && e.current !== undefined && e.total !== undefined) {
        const now = Date.now();
        let s = speed.get(e.id);
        if (!s) speed.set(e.id, (s = { t0: now, b0: e.current }));
        const secs = (now - s.t0) / 1000;
        const rate = secs > 0.2 ? `${humanSize((e.current - s.b0) / secs)}/s` : '';
        lines.set(e.id, `Downloading ${humanSize(e.current)}/${humanSize(e.total)} ${rate}`.trimEnd());
      } else {
        lines.set(e.id, e.status);
      }
      schedule();
    },
    done() {
      if (timer) clearTimeout(timer);
      if (header || order.length) draw();
    },
  };
}
