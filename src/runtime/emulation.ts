/**
 * Running another architecture's programs (an arm64 image on an amd64 host):
 * the kernel's binfmt_misc hands each foreign ELF to an emulator
 * (qemu-user-static). tsrun does nothing at run time but check, before a
 * container is made, that such a handler exists and will work inside a
 * container: it must have the F flag ("fix binary": the kernel opened the
 * emulator when it was registered), because the emulator's path does not
 * exist in the container's root. Registering handlers is the machine's
 * business (Debian's qemu-user-static + binfmt-support do it, with F), as it
 * is for docker and podman; tsrun never registers or removes one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError } from '../util/errors.js';
import { formatPlatform, normalizePlatform } from '../oci/platform.js';
import { hostPlatform, type Platform } from '../oci/types.js';

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** ELF class (1 = 32-bit, 2 = 64-bit), byte order (1 = little, 2 = big) and e_machine of each GOARCH. */
const ELF: Record<string, { cls: number; data: number; machine: number; qemu: string }> = {
  amd64: { cls: 2, data: 1, machine: 62, qemu: 'x86_64' },
  '386': { cls: 1, data: 1, machine: 3, qemu: 'i386' },
  arm64: { cls: 2, data: 1, machine: 183, qemu: 'aarch64' },
  arm: { cls: 1, data: 1, machine: 40, qemu: 'arm' },
  riscv64: { cls: 2, data: 1, machine: 243, qemu: 'riscv64' },
  ppc64le: { cls: 2, data: 1, machine: 21, qemu: 'ppc64le' },
  s390x: { cls: 2, data: 2, machine: 22, qemu: 's390x' },
  mips64le: { cls: 2, data: 1, machine: 8, qemu: 'mips64el' },
  loong64: { cls: 2, data: 1, machine: 258, qemu: 'loongarch64' },
};

/** Architectures this host runs without help (an amd64 kernel runs 386 programs; arm64 kernels often run arm). */
function native(arch: string): boolean {
  const host = normalizePlatform(hostPlatform()).architecture;
  return arch === host || (host === 'amd64' && arch === '386');
}

/** The first 20 bytes of an executable of that architecture, as binfmt_misc matches them. */
function elfHeader(e: { cls: number; data: number; machine: number }): Buffer {
  const b = Buffer.alloc(20);
  b.set([0x7f, 0x45, 0x4c, 0x46, e.cls, e.data, 1], 0);
  if (e.data === 1) {
    b.writeUInt16LE(2, 16); // ET_EXEC
    b.writeUInt16LE(e.machine, 18);
  } else {
    b.writeUInt16BE(2, 16);
    b.writeUInt16BE(e.machine, 18);
  }
  return b;
}

export interface BinfmtEntry {
  name: string;
  enabled: boolean;
  flags: string;
  offset: number;
  magic: Buffer;
  mask?: Buffer;
}

/** Parse one /proc/sys/fs/binfmt_misc/NAME file (undefined for extension-matched entries). */
export function parseBinfmtEntry(name: string, text: string): BinfmtEntry | undefined {
  const lines = text.split('\n');
  const field = (k: string) => lines.find((l) => l.startsWith(`${k} `) || l.startsWith(`${k}:`))?.replace(/^[a-z]+:? ?/, '').trim();
  const magic = field('magic');
  if (!magic || !/^([0-9a-f]{2})+$/i.test(magic)) return undefined;
  const mask = field('mask');
  return {
    name,
    enabled: lines[0]?.trim() === 'enabled',
    flags: field('flags') ?? '',
    offset: Number(field('offset') ?? 0),
    magic: Buffer.from(magic, 'hex'),
    ...(mask && /^([0-9a-f]{2})+$/i.test(mask) ? { mask: Buffer.from(mask, 'hex') } : {}),
  };
}

/** Does the entry claim an executable that starts with `header`? */
export function entryMatches(e: BinfmtEntry, header: Buffer): boolean {
  if (e.offset + e.magic.length > header.length) return false;
  for (let i = 0; i < e.magic.length; i++) {
    const m = e.mask?.[i] ?? 0xff;
    if ((header[e.offset + i]! & m) !== (e.magic[i]! & m)) return false;
  }
  return true;
}

function unable(p: Platform, why: string, hint: string): TsrunError {
  const host = normalizePlatform(hostPlatform());
  return new TsrunError('UNSUPPORTED', `cannot run ${formatPlatform(p)} programs on this ${formatPlatform(host)} machine: ${why}`, { hint });
}

/**
 * Throws (one line, what is missing and how to get it) unless programs of
 * platform `p` can run in a container here: natively, or through an enabled
 * binfmt_misc handler with the F flag. `dir` is for tests.
 */
export function checkCanRun(p: Platform, dir = BINFMT): void {
  const want = normalizePlatform(p);
  if (want.os !== 'linux') throw unable(want, `images for ${want.os} need a ${want.os} kernel`, 'use a linux image');
  if (native(want.architecture)) return;
  const elf = ELF[want.architecture];
  if (!elf) throw unable(want, `tsrun knows no ELF machine for the architecture ${want.architecture}`, 'use an image for this machine');
  const install = `install qemu-user-static and binfmt-support, which register qemu-${elf.qemu} with the F flag`;
  let status: string;
  try {
    status = fs.readFileSync(path.join(dir, 'status'), 'utf8').trim();
  } catch {
    throw unable(want, `binfmt_misc is not mounted at ${dir}`, `mount -t binfmt_misc binfmt_misc ${dir}, then ${install}`);
  }
  if (status !== 'enabled') throw unable(want, 'binfmt_misc is disabled', `echo 1 > ${dir}/status`);
  const header = elfHeader(elf);
  const entries: BinfmtEntry[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name === 'status' || name === 'register') continue;
    try {
      const e = parseBinfmtEntry(name, fs.readFileSync(path.join(dir, name), 'utf8'));
      if (e && entryMatches(e, header)) entries.push(e);
    } catch {
      /* an entry removed while we read: not a handler */
    }
  }
  const live = entries.filter((e) => e.enabled);
  if (!live.length) {
    const off = entries[0];
    throw unable(want, off ? `its binfmt_misc handler ${off.name} is disabled` : `no binfmt_misc handler for ${want.architecture} programs`, off ? `update-binfmts --enable ${off.name}` : install);
  }
  if (!live.some((e) => e.flags.includes('F'))) {
    throw unable(want, `the binfmt_misc handler ${live[0]!.name} has no F flag, so its emulator cannot be found inside a container`, `register it again with the F flag (Debian's qemu-user-static does: update-binfmts --enable qemu-${elf.qemu})`);
  }
}
