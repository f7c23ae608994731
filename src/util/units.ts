/**
 * Sizes as docker's go-units prints them, for `stats` and `system df`:
 *   BytesSize(n)                 "%.4g%s", 1024-based: 1.5MiB, 7.773GiB, 0B
 *   HumanSizeWithPrecision(n, p) "%.*g%s", 1000-based: 1.45kB, 796B, 12.3MB
 *   HumanSize(n)                 HumanSizeWithPrecision(n, 4)
 * and Go's %g, whose exponent form shows where rounding crosses the unit
 * (999.5 with %.3g is "1e+03": docker prints "1e+03kB" there too).
 */

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's fmt "%.{p}g" of a finite float64. */
export function goG(v: number, p: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
  const prec = Math.max(1, p);
  const [mant, expText] = v.toExponential(prec - 1).split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= prec) {
    const m = mant!.includes('.') ? mant!.replace(/\.?0+$/, '') : mant!;
    const e = Math.abs(exp);
    return `${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  const fixed = v.toFixed(Math.max(0, prec - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

function sizeAndUnit(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]!];
}

/** go-units BytesSize: binary units, 4 significant digits. */
export function bytesSize(n: number): string {
  const [v, u] = sizeAndUnit(n, 1024, BINARY);
  return `${goG(v, 4)}${u}`;
}

/** go-units HumanSizeWithPrecision: decimal units. */
export function humanSizeWithPrecision(n: number, precision: number): string {
  const [v, u] = sizeAndUnit(n, 1000, DECIMAL);
  return `${goG(v, precision)}${u}`;
}

/** go-units HumanSize (docker's `system df` and `images` sizes). */
export function goHumanSize(n: number): string {
  return humanSizeWithPrecision(n, 4);
}

/** docker's formatPercentage: "%.2f%%". */
export function percent(v: number): string {
  return `${(Number.isFinite(v) ? v : 0).toFixed(2)}%`;
}
