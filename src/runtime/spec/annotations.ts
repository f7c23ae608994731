/**
 * The io.tsrun.* annotations: what tsrun's launcher needs that the runtime
 * spec has no field for (native/init/spec_tsrun.c reads them; README.md,
 * "tsrun run's spec", lists them). Annotation values are strings: lists are
 * JSON arrays in the string, flags "true".
 */
export const A = {
  upper: 'io.tsrun.overlay.upperdir',
  work: 'io.tsrun.overlay.workdir',
  lowers: 'io.tsrun.overlay.lowerdirs',
  overlayOptions: 'io.tsrun.overlay.options',
  cgroupProcs: 'io.tsrun.cgroup.procs',
  cgroupDirs: 'io.tsrun.cgroup.dirs',
  cgroupDevices: 'io.tsrun.cgroup.devices',
  exitFile: 'io.tsrun.exitfile',
  log: 'io.tsrun.log',
  autoRemove: 'io.tsrun.autoremove',
  init: 'io.tsrun.init',
  stdin: 'io.tsrun.stdin',
  stdinAttach: 'io.tsrun.stdin.attach',
  detach: 'io.tsrun.detach',
  seccompCache: 'io.tsrun.seccomp.cache',
  watch: 'io.tsrun.watch',
  attach: 'io.tsrun.attach',
  detachKeys: 'io.tsrun.detachkeys',
} as const;

/** Annotations from typed values: a list becomes a JSON array (left out when empty), true "true"; false and undefined are left out. */
export function annotate(values: Record<string, string | string[] | boolean | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === false) continue;
    if (Array.isArray(v)) {
      if (v.length) out[k] = JSON.stringify(v);
    } else out[k] = v === true ? 'true' : v;
  }
  return out;
}
