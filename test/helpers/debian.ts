/**
 * The debootstrapped Debian fixture: test/fixtures/.cache/debian-rootfs.tar, made once per
 * clean machine by scripts/make-debian-rootfs.sh (debootstrap --variant=minbase bookworm
 * from the mirror apt uses; ~30 s on the CI VM, more on a slow mirror). A missing
 * debootstrap fails the test: scripts/setup.sh installs it and builds the fixture.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIXTURES, REPO, tsrunOk } from './cli.js';

export function debianTar(): string {
  const out = path.join(FIXTURES, 'debian-rootfs.tar');
  if (!fs.existsSync(out)) {
    fs.mkdirSync(FIXTURES, { recursive: true });
    const r = spawnSync(path.join(REPO, 'scripts', 'make-debian-rootfs.sh'), [out], { stdio: 'inherit', timeout: 20 * 60_000 });
    if (r.status !== 0) throw new Error('could not build the Debian rootfs fixture (scripts/setup.sh installs debootstrap)');
  }
  return out;
}

/** Import the Debian rootfs as debian:bookworm (CMD bash, docker's PATH); returns the image ID. */
export function importDebian(root: string, ref = 'debian:bookworm'): string {
  return tsrunOk(root, ['import', '-c', 'CMD ["bash"]', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', debianTar(), ref]).trim();
}
