/**
 * Escapes through the session and the stdio around a container process
 * (issue #9, items 1, 3, 4, 5), each performed as an attacker would, with the
 * outcome docker gives asserted:
 *   - keystrokes pushed into the caller's terminal with TIOCSTI (the container
 *     must have no controlling terminal without -t, its own pty with -t)
 *   - /proc/PID/root of an `exec` launcher that is already in the container's
 *     PID namespace but still in the host's mount namespace
 *   - --init's PID 1 carrying tsrun's environment and inherited fds
 *   - the caller's own files handed to the container as stdin/stdout/stderr
 * The attack program (test/fixtures/attacks/session.c) is built here with gcc -static.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tsrun, tsrunOk, tsrunSpawn, REPO, TSRUN, useBusyboxRoot } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const t = useBusyboxRoot();
let tools = '';
const CTR = 'sess';

/** The shell command line that runs tsrun with this test's root. */
const cli = (args: string) => `${process.execPath} ${TSRUN} --root ${t().root} ${args}`;
// the containers need no network: a bridge's setup waits on netavark's host-wide lock on a busy machine
const NONET = '--network none';

/**
 * cmd under a fresh terminal (script(1)): the caller's shell is bash, which after
 * tsrun exits reads a line from the terminal, as an interactive shell would. What it
 * reads is printed as after:[LINE]. The terminal's input stays open (no EOF from
 * script) until the command is done.
 */
function underTerminal(cmd: string): Promise<string> {
  const inner = `${cmd}; read -t 1 line; echo "after:[$line]"`;
  const p = spawn('script', ['-qec', `bash -c '${inner.replace(/'/g, `'\\''`)}'`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), 300_000); // a hang's bound (cli.ts's tsrun() has the same)
  // 'close', not 'exit': only then has all of the terminal's output been read
  return new Promise((resolve) =>
    p.on('close', () => {
      clearTimeout(timer);
      resolve(out.replace(/\r/g, ''));
    }),
  );
}

describe('session and stdio escapes (issue #9)', () => {
  before(() => {
    tools = path.join(t().scratch, 'tools');
    fs.mkdirSync(tools);
    const cc = spawnSync('gcc', ['-static', '-O1', '-o', path.join(tools, 'session'), path.join(REPO, 'test', 'fixtures', 'attacks', 'session.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc -static (scripts/setup.sh installs build-essential): ${cc.stderr}`);
    tsrunOk(t().root, ['run', '-d', '--network', 'none', '--name', CTR, '--cap-add', 'SYS_PTRACE', '-v', `${tools}:/t`, 'busybox', 'sleep', '100000']);
  });
  after(() => {
    tsrun(t().root, ['rm', '-f', CTR]);
  });

  const STI = `/t/session sti "echo PWNED-$$"`;

  for (const variant of ['run --rm', 'run --rm -i', 'run --rm --init', 'run --rm -i --init']) {
    it(`${variant}: no controlling terminal, TIOCSTI reaches nothing (podman: ENXIO on /dev/tty)`, async () => {
      const out = await underTerminal(cli(`${variant} ${NONET} -v ${tools}:/t busybox ${STI}`));
      assert.match(out, /^\/dev\/tty: open: ENXIO$/m, out);
      assert.doesNotMatch(out, /injected/, out);
      assert.match(out, /^after:\[\]$/m, out);
    });
  }

  for (const variant of ['exec', 'exec -i']) {
    it(`${variant}: no controlling terminal, TIOCSTI reaches nothing`, async () => {
      const out = await underTerminal(cli(`${variant} ${CTR} ${STI}`));
      assert.match(out, /^\/dev\/tty: open: ENXIO$/m, out);
      assert.doesNotMatch(out, /injected/, out);
      assert.match(out, /^after:\[\]$/m, out);
    });
  }

  for (const variant of ['run --rm -t', 'run --rm -it --init', `exec -t ${CTR}`]) {
    it(`${variant}: the terminal is the container's own pty; keystrokes pushed into it stay there`, async () => {
      const target = variant.startsWith('exec') ? '' : `${NONET} -v ${tools}:/t busybox`;
      const out = await underTerminal(cli(`${variant} ${target} sh -c 'tty; ${STI}'`));
      assert.match(out, /^\/dev\/pts\/\d+$/m, out);
      assert.match(out, /^after:\[\]$/m, out);
    });
  }

  it('exec: a container process with SYS_PTRACE never sees a launcher whose root is the host (runc: none)', async () => {
    const marker = path.join(t().scratch, 'host-only');
    fs.writeFileSync(marker, '');
    const stop = path.join(tools, 'stop');
    fs.rmSync(stop, { force: true });
    const scanner = tsrunSpawn(t().root, ['exec', CTR, '/t/session', 'scan', marker, '/t/stop']);
    let out = '';
    scanner.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // 'close': the scanner's last line (its counts) is read by then, not always at 'exit'
    const done = new Promise<void>((resolve) => scanner.on('close', () => resolve()));
    try {
      await until('the scanner to start', () => out.includes('scanning'), 30_000);
      for (let i = 0; i < 60; i++) tsrunOk(t().root, ['exec', CTR, 'true']);
    } finally {
      fs.writeFileSync(stop, '');
      await done;
    }
    const m = /^hits (\d+) tries (\d+)$/m.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[2]) > 0, `the scanner looked at nothing: ${out}`);
    assert.equal(m[1], '0', `launchers reached through /proc/PID/root: ${out}`);
    assert.equal(fs.readFileSync(marker, 'utf8'), '');
  });

  it("--init: PID 1 has the container's environment and fds 0-2 only (an inherited fd 200 stays outside)", () => {
    const script = 'ls /proc/1/fd; echo env:; tr "\\0" "\\n" < /proc/1/environ; echo; cat /proc/1/fd/200/etc/hostname && echo REACHED; true';
    const r = spawnSync('bash', ['-c', `exec 200</; ${cli(`run --rm --init ${NONET} -e A=1 busybox sh -c '${script}'`)}`], {
      encoding: 'utf8',
      env: { ...process.env, TSRUN_TEST_HOST_SECRET: 'leaked' },
    });
    assert.equal(r.status, 0, r.stderr);
    const [fds, env] = r.stdout.split('env:\n');
    assert.deepEqual(fds!.trim().split(/\s+/), ['0', '1', '2']);
    assert.doesNotMatch(r.stdout, /TSRUN_TEST_HOST_SECRET|leaked|REACHED/);
    const vars = env!.split('\n').filter(Boolean);
    assert.ok(vars.includes('A=1'), env);
    assert.ok(vars.some((v) => v.startsWith('PATH=')), env);
    assert.ok(vars.every((v) => /^(PATH|HOSTNAME|HOME|A|TERM)=/.test(v)), env);
  });

  it("run -i: stdin is a pipe, never the caller's file (a read-only host file cannot be reopened, written or chmod'ed)", () => {
    const f = path.join(t().scratch, 'stdin-file');
    fs.writeFileSync(f, 'host-secret\n', { mode: 0o644 });
    fs.chmodSync(f, 0o644);
    const fd = fs.openSync(f, 'r');
    try {
      const script = 'readlink /proc/self/fd/0; cat; echo overwritten > /proc/self/fd/0; chmod 4777 /proc/self/fd/0; true';
      const r = spawnSync(process.execPath, [TSRUN, '--root', t().root, 'run', '--rm', '-i', '--network', 'none', 'busybox', 'sh', '-c', script], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^pipe:\[\d+\]\nhost-secret\n/, r.stdout);
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(fs.readFileSync(f, 'utf8'), 'host-secret\n');
    assert.equal(fs.statSync(f).mode & 0o7777, 0o644);
  });

  it("without -i, stdin is the container's own /dev/null, never the host's (whose mode a chmod through /proc/self/fd/0 would change)", () => {
    const host = fs.statSync('/dev/null');
    const check = 'stat -L -c "%d:%i" /proc/self/fd/0 /dev/null';
    for (const args of [['run', '--rm', '--network', 'none', 'busybox'], ['exec', CTR]]) {
      const [fd0, own] = tsrunOk(t().root, [...args, 'sh', '-c', check]).trim().split('\n');
      assert.equal(fd0, own, args.join(' '));
      assert.notEqual(fd0, `${host.dev}:${host.ino}`, args.join(' '));
    }
  });

  it("exec: stdout/stderr (and stdin with -i) are pipes, never the caller's files", () => {
    const out = path.join(t().scratch, 'exec-out');
    const inp = path.join(t().scratch, 'exec-in');
    fs.writeFileSync(out, 'before\n', { mode: 0o644 });
    fs.writeFileSync(inp, 'input\n', { mode: 0o644 });
    fs.chmodSync(out, 0o644);
    fs.chmodSync(inp, 0o644);
    const ofd = fs.openSync(out, 'a');
    const ifd = fs.openSync(inp, 'r');
    try {
      const script = 'for i in 0 1 2; do readlink /proc/self/fd/$i; chmod 4777 /proc/self/fd/$i; done; cat; echo to-stderr >&2; true';
      const r = spawnSync(process.execPath, [TSRUN, '--root', t().root, 'exec', '-i', CTR, 'sh', '-c', script], { stdio: [ifd, ofd, ofd] });
      assert.equal(r.status, 0);
    } finally {
      fs.closeSync(ofd);
      fs.closeSync(ifd);
    }
    const text = fs.readFileSync(out, 'utf8');
    assert.match(text, /^before\npipe:\[\d+\]\npipe:\[\d+\]\npipe:\[\d+\]\ninput\n/, text);
    assert.match(text, /to-stderr/);
    assert.doesNotMatch(text, new RegExp(t().scratch));
    assert.equal(fs.statSync(out).mode & 0o7777, 0o644);
    assert.equal(fs.statSync(inp).mode & 0o7777, 0o644);
    assert.equal(fs.readFileSync(inp, 'utf8'), 'input\n');
  });
});
