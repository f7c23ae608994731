/**
 * Platforms: --platform parsing and containerd's normalization and matching, and the
 * binfmt_misc check that decides whether another architecture's image can run here
 * on this amd64 machine (against fake /proc/sys/fs/binfmt_misc dirs: mounted or not, a handler with or
 * without the F flag, disabled, an unknown architecture).
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatPlatform, parsePlatform, platformMatches } from '../../src/oci/platform.js';
import { checkCanRun, entryMatches, parseBinfmtEntry } from '../../src/runtime/emulation.js';

// Debian bookworm's qemu-user-static entry, as the kernel prints it
const AARCH64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;

const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function fakeBinfmt(entries: Record<string, string>, status = 'enabled'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-binfmt-'));
  made.push(dir);
  fs.writeFileSync(path.join(dir, 'status'), status + '\n');
  fs.writeFileSync(path.join(dir, 'register'), '');
  for (const [n, t] of Object.entries(entries)) fs.writeFileSync(path.join(dir, n), t);
  return dir;
}

describe('--platform values', () => {
  test('parsed and normalized as containerd does', () => {
    assert.deepEqual(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('Linux/aarch64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('linux/armhf'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.equal(formatPlatform(parsePlatform('linux/arm/v6')), 'linux/arm/v6');
    for (const bad of ['arm64', 'linux', 'linux/arm64/v8/x', 'linux/', 'linux/a b']) assert.throws(() => parsePlatform(bad), /invalid platform/);
  });
  test('matching: default variants are equal, a want without a variant takes any', () => {
    assert.ok(platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, parsePlatform('linux/arm64')));
    assert.ok(platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.ok(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm' }));
    assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm/v7')));
    assert.ok(!platformMatches({ os: 'linux', architecture: 'amd64' }, parsePlatform('linux/arm64')));
    assert.ok(!platformMatches({ os: 'windows', architecture: 'amd64' }, parsePlatform('linux/amd64')));
  });
});

describe('binfmt_misc', () => {
  test("Debian's aarch64 entry claims aarch64 executables, not x86-64 ones", () => {
    const e = parseBinfmtEntry('qemu-aarch64', AARCH64)!;
    assert.equal(e.enabled, true);
    assert.equal(e.flags, 'PF');
    const head = (machine: number, type = 2) => {
      const b = Buffer.alloc(20);
      b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
      b.writeUInt16LE(type, 16);
      b.writeUInt16LE(machine, 18);
      return b;
    };
    assert.ok(entryMatches(e, head(183)));
    assert.ok(entryMatches(e, head(183, 3)), 'PIE (ET_DYN) too: the mask clears that bit');
    assert.ok(!entryMatches(e, head(62)));
    assert.equal(parseBinfmtEntry('jar', 'enabled\ninterpreter /usr/bin/jexec\nflags: \nextension .jar\n'), undefined);
  });

  test('the host architecture (and 386 on amd64) needs nothing', () => {
    checkCanRun({ os: 'linux', architecture: 'amd64' }, '/nonexistent');
    checkCanRun({ os: 'linux', architecture: '386' }, '/nonexistent');
  });

  test('another architecture: an enabled handler with F passes; each missing piece is one line saying what to do', () => {
    const arm = { os: 'linux', architecture: 'arm64' };
    const good = fakeBinfmt({ 'qemu-aarch64': AARCH64 });
    checkCanRun(arm, good);
    assert.throws(() => checkCanRun(arm, '/nonexistent'), (e: Error & { hint?: string }) => /^cannot run linux\/arm64 programs on this linux\/amd64 machine: binfmt_misc is not mounted/.test(e.message) && /mount -t binfmt_misc/.test(e.hint ?? ''));
    assert.throws(() => checkCanRun(arm, fakeBinfmt({})), (e: Error & { hint?: string }) => /no binfmt_misc handler for arm64 programs/.test(e.message) && /qemu-user-static/.test(e.hint ?? ''));
    assert.throws(() => checkCanRun(arm, fakeBinfmt({ 'qemu-aarch64': AARCH64.replace('flags: PF', 'flags: P') })), /handler qemu-aarch64 has no F flag/);
    assert.throws(() => checkCanRun(arm, fakeBinfmt({ 'qemu-aarch64': AARCH64.replace('enabled', 'disabled') })), /handler qemu-aarch64 is disabled/);
    assert.throws(() => checkCanRun(arm, fakeBinfmt({ 'qemu-aarch64': AARCH64 }, 'disabled')), /binfmt_misc is disabled/);
    assert.throws(() => checkCanRun({ os: 'linux', architecture: 'riscv64' }, good), /no binfmt_misc handler for riscv64 programs/);
    assert.throws(() => checkCanRun({ os: 'linux', architecture: 'sparc64' }, good), /no ELF machine for the architecture sparc64/);
    assert.throws(() => checkCanRun({ os: 'windows', architecture: 'amd64' }, good), /images for windows need a windows kernel/);
  });
});
