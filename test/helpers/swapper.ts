/**
 * An attacker's tool for race tests: a small static program (built with the
 * machine's gcc, glibc's static libc) that swaps pairs of names atomically
 * with renameat2(RENAME_EXCHANGE) as fast as it can, for a bounded time:
 *
 *   swap SECONDS A1 B1 [A2 B2 …]
 *
 * A directory swapped with a symlink this way is, at any instant, one or the
 * other: a reader that looks a name up twice sees both. The test mounts the
 * binary into a busybox container read-only (-v DIR:/tbin:ro).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  if (argc < 4 || argc % 2)
    return 2;
  time_t end = time(NULL) + atoi(argv[1]);
  while (time(NULL) < end)
    for (int i = 0; i < 4096; i++)
      for (int p = 2; p + 1 < argc; p += 2)
        syscall(SYS_renameat2, AT_FDCWD, argv[p], AT_FDCWD, argv[p + 1], 2 /* RENAME_EXCHANGE */);
  return 0;
}
`;

/** Build the swapper into dir/swap (a prerequisite: failing to build fails the test). */
export function buildSwapper(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, 'swap.c');
  const out = path.join(dir, 'swap');
  fs.writeFileSync(src, SOURCE);
  const r = spawnSync('gcc', ['-static', '-O2', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the swapper (gcc, static libc): ${r.stderr || r.error}`);
  fs.rmSync(src);
  return out;
}
