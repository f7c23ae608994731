/**
 * `build --progress tty` (the default on a terminal): docker's folded display. Each step is
 * one line; while it runs, the last few lines of its output show below it, dimmed, and
 * are folded away when it ends, leaving `#N [stage n/m] INSTR` with ` CACHED` or
 * ` DONE 1.2s`. It reads the plain progress lines the build writes (`#N …`) so the build
 * has one output form; warnings and everything else pass through as they are.
 */
const TAIL = 6;

export interface BuildTtyProgress {
  line: (l: string) => void;
  /** The last step's header and lines, unfolded (the export's names, or a failed step's output). */
  end: () => void;
}

export function buildTtyProgress(out: NodeJS.WriteStream): BuildTtyProgress {
  const width = () => Math.max(20, (out.columns || 120) - 1);
  let current: { n: string; header: string; tail: string[]; t0: number } | undefined;
  let drawn = 0; // lines of the live area on screen (header + tail)
  const clear = () => {
    if (drawn) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    clear();
    if (!current) return;
    const secs = ((Date.now() - current.t0) / 1000).toFixed(1);
    let s = `\x1b[1m${current.header.slice(0, width() - 8)}\x1b[0m ${secs}s\n`;
    for (const t of current.tail) s += `\x1b[2m${t.slice(0, width())}\x1b[0m\n`;
    out.write(s);
    drawn = 1 + current.tail.length;
  };
  const finish = (suffix: string) => {
    clear();
    out.write(`${current!.header} ${suffix}\n`);
    current = undefined;
  };
  const line = (l: string) => {
    const m = /^#(\d+) (.*)$/.exec(l);
    if (!m) {
      clear();
      out.write(l + '\n');
      draw();
      return;
    }
    const [, n, rest] = m as unknown as [string, string, string];
    if (current && current.n === n) {
      if (rest === 'CACHED' || /^DONE /.test(rest)) return finish(rest);
      const out2 = /^[\d.]+ (.*)$/.exec(rest);
      current.tail.push(out2 ? out2[1]! : rest);
      if (current.tail.length > TAIL) current.tail.shift();
      draw();
      return;
    }
    if (current) finish('');
    current = { n, header: `#${n} ${rest}`, tail: [], t0: Date.now() };
    draw();
  };
  return {
    line,
    end: () => {
      if (!current) return;
      // the last step (exporting, or the one that failed) keeps its lines
      clear();
      out.write([current.header, ...current.tail].join('\n') + '\n');
      current = undefined;
    },
  };
}
