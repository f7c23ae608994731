/**
 * `build --ssh default` for git over ssh: a private sshd (Debian's openssh-server, started here
 * on 127.0.0.1 and a free port with its own host key, authorized_keys and pid file in a temp
 * dir; the system's sshd is never touched) serves a repository the test makes. With `--ssh
 * default=KEYFILE` (an ssh-agent tsrun starts) or `--ssh default=SOCKET` (an agent started
 * here) the git context and `ADD ssh://…` fetch through it; without --ssh the same fetch is
 * refused (the key is only in the agent): one line, exit 1, the store as it was.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { startSshAgent } from '../helpers/ssh-agent.js';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, type TempRoot } from '../helpers/cli.js';
import { freePort } from '../helpers/registry.js';

let tr: TempRoot;
let sshd: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let repoUrl: string;
let keyFile: string;
let agentSock: string;
let sshdLog = '';

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function build(args: string[]): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--network', 'none', '--progress', 'plain', '--iidfile', iid, ...args], { env: { SSH_AUTH_SOCK: '' } });
  assert.equal(r.code, 0, `build failed: ${r.stderr}\nsshd: ${sshdLog}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

const inImage = (ref: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]);

before(async () => {
  assert.ok(fs.existsSync('/usr/sbin/sshd'), '/usr/sbin/sshd is missing: run scripts/setup.sh (openssh-server)');
  tr = tempRoot('tsrun-buildgitssh-');
  importBusybox(tr.root);
  const dir = path.join(tr.scratch, 'ssh');
  fs.mkdirSync(dir, { mode: 0o700 });
  // the repository: a bare one served over ssh, with a tag and a subdirectory
  const served = path.join(tr.scratch, 'srv', 'repo.git');
  fs.mkdirSync(served, { recursive: true });
  run('git', ['init', '-q', '--bare', '-b', 'main', served]);
  const work = path.join(tr.scratch, 'work');
  fs.mkdirSync(path.join(work, 'sub'), { recursive: true });
  run('git', ['init', '-q', '-b', 'main'], work);
  fs.writeFileSync(path.join(work, 'Dockerfile'), 'FROM busybox\nCOPY . /src\n');
  fs.writeFileSync(path.join(work, 'hello.txt'), 'over ssh\n');
  fs.writeFileSync(path.join(work, 'sub', 'in-sub.txt'), 'sub over ssh\n');
  fs.writeFileSync(path.join(work, 'sub', 'Dockerfile'), 'FROM busybox\nCOPY . /sub\n');
  run('git', ['add', '-A'], work);
  run('git', ['commit', '-q', '-m', 'one'], work);
  run('git', ['tag', 'v1'], work);
  run('git', ['push', '-q', served, 'main', 'v1'], work);
  // keys: the server's host key, the client's key (authorized; it is in no ~/.ssh)
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_ed25519')]);
  keyFile = path.join(dir, 'client_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsrun-git-ssh', '-f', keyFile]);
  fs.copyFileSync(`${keyFile}.pub`, path.join(dir, 'authorized_keys'));
  // sshd's privilege separation directory (what the package's init script makes at boot)
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  // a port picked a moment before may be taken meanwhile (helpers/ports.ts): a new one then
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host_ed25519')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        '',
      ].join('\n'),
    );
    sshdLog = '';
    const d = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd = d;
    d.stderr!.setEncoding('utf8').on('data', (x: string) => (sshdLog += x));
    const exited = new Promise<void>((r) => d.once('exit', () => r()));
    let up = false;
    for (let end = Date.now() + 60_000; !up && d.exitCode === null && d.signalCode === null && Date.now() < end; ) {
      // its own line first: a connect alone could reach another process that took the port
      up = /Server listening on 127\.0\.0\.1 port/.test(sshdLog) && (await listening(port));
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    if (up && d.exitCode === null) break;
    if (d.exitCode === null) d.kill('SIGTERM');
    await exited;
    assert.ok(attempt < 5 && /already in use/i.test(sshdLog), `sshd did not listen: ${sshdLog}`);
  }
  repoUrl = `ssh://root@127.0.0.1:${port}${served}`;
  // an agent of the test's own, for --ssh default=SOCKET
  agentSock = path.join(dir, 'agent.sock');
  agent = await startSshAgent(agentSock, keyFile);
});

after(() => {
  if (sshd?.pid !== undefined && sshd.exitCode === null) process.kill(sshd.pid, 'SIGTERM');
  if (agent?.pid !== undefined && agent.exitCode === null) process.kill(agent.pid, 'SIGTERM');
  tr?.cleanup();
});

describe('build --ssh: git over ssh through the agent', () => {
  test('the git context and ADD ssh://… fetch with --ssh default=KEYFILE and default=SOCKET', () => {
    const ctxBuild = build(['--ssh', `default=${keyFile}`, `${repoUrl}#v1`]);
    assert.equal(inImage(ctxBuild.id, 'cat /src/hello.txt; ls /src | tr "\\n" " "'), 'over ssh\nDockerfile hello.txt sub ');
    const subBuild = build(['--ssh', `default=${agentSock}`, `${repoUrl}?ref=main&subdir=sub`]);
    assert.equal(inImage(subBuild.id, 'ls /sub | tr "\\n" " "'), 'Dockerfile in-sub.txt ');
    const dir = path.join(tr.scratch, 'add-ctx');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nADD ${repoUrl}#v1:sub /s\nADD --keep-git-dir=true ${repoUrl} /full\n`);
    const add = build(['--ssh', `default=${agentSock}`, dir]);
    assert.equal(inImage(add.id, 'cat /s/in-sub.txt /full/hello.txt; test -d /full/.git && echo has-git'), 'sub over ssh\nover ssh\nhas-git\n');
    // the key is not in any ~/.ssh: the agent did it. Cached again: ls-remote through the agent, no fetch
    const again = build(['--ssh', `default=${keyFile}`, dir]);
    assert.equal((again.log.match(/#\d+ CACHED/g) ?? []).length, 2, again.log);
  });

  test('without --ssh (or with only another id) the same fetch is refused: one line, exit 1, the store as it was', () => {
    const before = snapshotTree(tr.root);
    const dir = path.join(tr.scratch, 'add-noagent');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\n\nADD ${repoUrl}#v1 /x\n`);
    for (const extra of [[], ['--ssh', `other=${agentSock}`]]) {
      const r = tsrun(tr.root, ['build', '--network', 'none', ...extra, dir], { env: { SSH_AUTH_SOCK: '', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' } });
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('tsrun:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^tsrun: Dockerfile:3: failed to read git repository ssh:\/\/127\.0\.0\.1:\d+\/.*: .*Permission denied/);
      const c = tsrun(tr.root, ['build', ...extra, `${repoUrl}#v1`], { env: { SSH_AUTH_SOCK: '', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' } });
      assert.equal(c.code, 1, c.stderr);
      assert.match(c.stderr, /^tsrun: unable to prepare context: failed to read git repository .*Permission denied/m);
    }
    assert.deepEqual(snapshotTree(tr.root), before);
  });
});
