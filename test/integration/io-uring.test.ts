/**
 * io_uring under the default seccomp profile (issue #9, item 10): docker ≥25
 * (moby#46762) and podman block io_uring_setup, io_uring_enter and
 * io_uring_register, whose rings run I/O that seccomp never sees. A static
 * program built here calls the three in a default container and gets EPERM;
 * on the host (the prerequisite: this kernel allows io_uring) setup works.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, useBusyboxRoot } from '../helpers/cli.js';

const t = useBusyboxRoot();

/** Prints "NAME=RET/ERRNO" for each call; ring size 4, no flags; enter and register on fd -1. */
const PROGRAM = `
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  char params[120];
  memset(params, 0, sizeof params);
  errno = 0;
  long r = syscall(425, 4, params);
  printf("setup=%ld/%d\\n", r, r < 0 ? errno : 0);
  errno = 0;
  r = syscall(426, -1, 0, 0, 0, NULL, 0);
  printf("enter=%ld/%d\\n", r, r < 0 ? errno : 0);
  errno = 0;
  r = syscall(427, -1, 0, NULL, 0);
  printf("register=%ld/%d\\n", r, r < 0 ? errno : 0);
  return 0;
}
`;

describe('io_uring', () => {
  let bin = '';

  before(() => {
    const dir = path.join(t().scratch, 'uring');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'uring.c'), PROGRAM);
    bin = path.join(dir, 'uring');
    const cc = spawnSync('gcc', ['-static', '-O1', '-o', bin, path.join(dir, 'uring.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc -static: ${cc.stderr}`);
  });

  it('the host allows io_uring (else this test proves nothing)', () => {
    const host = spawnSync(bin, { encoding: 'utf8' });
    assert.match(host.stdout, /^setup=\d+\/0$/m, `io_uring_setup works on the host: ${host.stdout}`);
    assert.match(host.stdout, /^enter=-1\/9$/m, 'enter on fd -1: EBADF');
  });

  it('a default container gets EPERM from io_uring_setup, io_uring_enter and io_uring_register', () => {
    const r = tsrun(t().root, ['run', '--rm', '-v', `${path.dirname(bin)}:/t:ro`, 'busybox', '/t/uring']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^setup=-1\/1$/m, r.stdout);
    assert.match(r.stdout, /^enter=-1\/1$/m, r.stdout);
    assert.match(r.stdout, /^register=-1\/1$/m, r.stdout);
  });

  it('seccomp=unconfined lifts it, as docker', () => {
    const r = tsrun(t().root, ['run', '--rm', '--security-opt', 'seccomp=unconfined', '-v', `${path.dirname(bin)}:/t:ro`, 'busybox', '/t/uring']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^setup=\d+\/0$/m, r.stdout);
  });
});
