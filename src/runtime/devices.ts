/**
 * Which devices a container may use: docker's device cgroup policy. A default
 * container may make any device node (mknod: CAP_MKNOD is one of docker's
 * capabilities) but open only docker's default devices (null, zero, full,
 * random, urandom, tty, console, ptmx, the ptys, /dev/net/tun); --device adds
 * a host device (its node made in the container and allowed with the given
 * permissions), --device-cgroup-rule allows without making a node, and
 * --privileged allows everything. tsrun-init applies the list to the
 * container's cgroup (native/init/devices.c: v1 devices.deny/devices.allow,
 * v2 a BPF device program) before the container process runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError, usageError } from '../util/errors.js';
import { majorMinor } from './host-mounts.js';
import type { FsOp } from './mounts.js';

/** A --device flag as docker records it (HostConfig.Devices). */
export interface DeviceMapping {
  pathOnHost: string;
  pathInContainer: string;
  cgroupPermissions: string;
}

/** One allowed access: type a (everything), b or c; -1 for any major or minor; access letters of rwm. */
export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  major: number;
  minor: number;
  access: string;
}

const rule = (type: 'b' | 'c', major: number, minor: number, access = 'rwm'): DeviceRule => ({ type, major, minor, access });

/** docker's (and runc's) default allow-list. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  rule('c', -1, -1, 'm'), // mknod of any char device…
  rule('b', -1, -1, 'm'), // …and block device: making a node is harmless when it cannot be opened
  rule('c', 1, 3), // /dev/null
  rule('c', 1, 5), // /dev/zero
  rule('c', 1, 7), // /dev/full
  rule('c', 1, 8), // /dev/random
  rule('c', 1, 9), // /dev/urandom
  rule('c', 5, 0), // /dev/tty
  rule('c', 5, 1), // /dev/console
  rule('c', 5, 2), // /dev/ptmx
  rule('c', 136, -1), // /dev/pts/*
  rule('c', 10, 200), // /dev/net/tun
];

/** docker's validDeviceMode: one to three of r, w, m, none twice. */
function validPermissions(p: string): boolean {
  return /^[rwm]{1,3}$/.test(p) && new Set(p).size === p.length;
}

function badDevice(spec: string, why: string): TsrunError {
  return usageError(`invalid --device ${JSON.stringify(spec)}: ${why}`, 'use --device HOST_PATH[:CONTAINER_PATH][:PERMISSIONS], permissions made of r, w and m');
}

/** --device HOST[:CTR][:PERMS] (docker's parse): the syntax only; hostDevice checks the host path. */
export function parseDevice(spec: string): DeviceMapping {
  if (spec.includes('\0') || spec.includes('\x1f')) throw badDevice(spec, 'bad characters');
  const parts = spec.split(':');
  if (parts.length > 3 || !parts[0]) throw badDevice(spec, 'bad format');
  const src = parts[0];
  let dst = src;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (validPermissions(parts[1]!)) perms = parts[1]!;
    else dst = parts[1]!;
  } else if (parts.length === 3) {
    dst = parts[1]!;
    perms = parts[2]!;
    if (!validPermissions(perms)) throw badDevice(spec, `bad permissions ${JSON.stringify(perms)}`);
  }
  if (!src.startsWith('/')) throw badDevice(spec, `${src} is not an absolute path`);
  if (!dst.startsWith('/')) throw badDevice(spec, `${dst} is not an absolute path`);
  const clean = path.posix.normalize(dst).replace(/(.)\/$/, '$1');
  if (clean === '/') throw badDevice(spec, 'the container path cannot be /');
  const mapping = { pathOnHost: path.posix.normalize(src), pathInContainer: clean, cgroupPermissions: perms };
  hostDevice(mapping, spec); // fail now, not at start, when the host has no such device
  return mapping;
}

/** --device-cgroup-rule 'TYPE MAJOR:MINOR PERMS' (docker's format). */
export function parseDeviceCgroupRule(text: string): DeviceRule {
  const m = /^([acb]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/.exec(text);
  const num = (s: string) => (s === '*' ? -1 : Number(s));
  if (!m || (m[2] !== '*' && num(m[2]!) > 0xfffffff) || (m[3] !== '*' && num(m[3]!) > 0xfffffff)) {
    throw usageError(`invalid --device-cgroup-rule ${JSON.stringify(text)}`, "use 'TYPE MAJOR:MINOR PERMISSIONS', e.g. 'c 1:3 rwm' (type a, b or c; * for any number)");
  }
  return { type: m[1] as DeviceRule['type'], major: num(m[2]!), minor: num(m[3]!), access: [...new Set(m[4]!)].join('') };
}

const S_IFMT = 0o170000;

/**
 * The nodes a --device makes and the rules it adds: the host path (symlinks
 * followed, as docker) is a char or block device, or a directory whose device
 * nodes all go, below the container path. Read again at each start: a
 * device's numbers may change between boots.
 */
export function hostDevice(m: DeviceMapping, spec = m.pathOnHost): { ops: FsOp[]; rules: DeviceRule[] } {
  let real: string;
  let st: fs.BigIntStats;
  try {
    real = fs.realpathSync(m.pathOnHost);
    st = fs.statSync(real, { bigint: true });
  } catch (err) {
    throw new TsrunError('USAGE', `invalid --device ${JSON.stringify(spec)}: cannot stat ${m.pathOnHost}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      hint: 'give the path of a device node on this host',
    });
  }
  const ops: FsOp[] = [];
  const rules: DeviceRule[] = [];
  const add = (s: fs.BigIntStats, dst: string) => {
    const [major, minor] = majorMinor(s.rdev);
    ops.push({ op: 'mknod', dst, mode: Number(s.mode) & (S_IFMT | 0o7777), major, minor, uid: Number(s.uid), gid: Number(s.gid) });
    rules.push({ type: s.isBlockDevice() ? 'b' : 'c', major, minor, access: m.cgroupPermissions });
  };
  if (st.isCharacterDevice() || st.isBlockDevice()) add(st, m.pathInContainer);
  else if (st.isDirectory()) {
    const walk = (dir: string, depth: number) => {
      for (const name of fs.readdirSync(dir).sort()) {
        const p = path.join(dir, name);
        const s = fs.lstatSync(p, { bigint: true });
        if (s.isDirectory() && depth < 8) walk(p, depth + 1);
        else if (s.isCharacterDevice() || s.isBlockDevice()) add(s, path.posix.join(m.pathInContainer, path.relative(real, p)));
      }
    };
    walk(real, 0);
  } else throw usageError(`invalid --device ${JSON.stringify(spec)}: ${m.pathOnHost} is not a device node`, 'give the path of a char or block device (or a directory of them)');
  return { ops, rules };
}

/** The plan's device policy: the rules for a non-privileged container, and the nodes --device makes. */
export function containerDevices(h: { privileged: boolean; devices?: DeviceMapping[]; deviceCgroupRules?: string[] }): { ops: FsOp[]; rules: DeviceRule[] } {
  const ops: FsOp[] = [];
  const rules: DeviceRule[] = [...DEFAULT_DEVICE_RULES];
  for (const m of h.devices ?? []) {
    const d = hostDevice(m);
    ops.push(...d.ops);
    rules.push(...d.rules);
  }
  for (const r of h.deviceCgroupRules ?? []) rules.push(parseDeviceCgroupRule(r));
  return { ops, rules };
}
