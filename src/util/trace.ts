/**
 * Start-up tracing for whoever works on tsrun's latency: with
 * TSRUN_TRACE_STARTUP=1, `mark(label)` records the time since the process
 * started, and the marks go to stderr as one line each when tsrun exits.
 * Off (the default) it costs one property read per mark.
 */
const on = process.env.TSRUN_TRACE_STARTUP === '1';
const marks: [string, number][] = [];

export function mark(label: string): void {
  if (!on) return;
  if (!marks.length) {
    // bin/tsrun may have marked before the bundle was loaded
    const early = (globalThis as { __tsrunMarks?: [string, number][] }).__tsrunMarks;
    if (early) marks.push(...early);
    process.once('exit', () => {
      marks.push(['exit', performance.now()]);
      let prev = 0;
      for (const [l, t] of marks) {
        process.stderr.write(`trace ${t.toFixed(2).padStart(7)} ms  +${(t - prev).toFixed(2).padStart(6)}  ${l}\n`);
        prev = t;
      }
    });
  }
  marks.push([label, performance.now()]);
}
