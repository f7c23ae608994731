/**
 * `build --ssh` with `RUN --mount=type=ssh`: a real ssh-agent started here (killed by its PID)
 * holding a key made here; inside a busybox RUN a static agent client (test/fixtures/build/
 * ssh-agent-list.c, built with gcc -static) lists the agent's keys through the forwarded
 * socket. Also: key files (tsrun starts and stops its own ssh-agent), the socket and
 * SSH_AUTH_SOCK never reach the image, the cache ignores which agent it was, a required
 * mount without --ssh fails with BuildKit's message at file:line and leaves the store as it was.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { startSshAgent } from '../helpers/ssh-agent.js';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, mountsUnder, REPO, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;
let agent: ChildProcess | undefined;
let agentSock: string;
let keyFile: string;
let helper: string;

function context(name: string, dockerfile: string): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  fs.copyFileSync(helper, path.join(dir, 'agent-list'));
  fs.chmodSync(path.join(dir, 'agent-list'), 0o755);
  return dir;
}

function build(args: string[], env?: Record<string, string>): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--network', 'none', '--progress', 'plain', '--iidfile', iid, ...args], { env });
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

const inImage = (ref: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]);

/** ssh-agent processes whose socket lies below `dir` (the ones tsrun started for key files). */
function agentsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'ssh-agent' && argv.some((a) => a.startsWith(dir))) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

before(async () => {
  tr = tempRoot('tsrun-buildssh-');
  importBusybox(tr.root);
  const tools = path.join(tr.scratch, 'tools');
  fs.mkdirSync(tools);
  helper = path.join(tools, 'agent-list');
  const cc = spawnSync('gcc', ['-static', '-O1', '-o', helper, path.join(REPO, 'test', 'fixtures', 'build', 'ssh-agent-list.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `gcc -static failed (build-essential is in setup.sh): ${cc.stderr}`);
  keyFile = path.join(tools, 'id_ed25519');
  const kg = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsrun-test-key', '-f', keyFile], { encoding: 'utf8' });
  assert.equal(kg.status, 0, `ssh-keygen failed (openssh-client is in setup.sh): ${kg.stderr}`);
  agentSock = path.join(tools, 'agent.sock');
  agent = await startSshAgent(agentSock, keyFile);
});

after(() => {
  if (agent?.pid !== undefined && agent.exitCode === null) process.kill(agent.pid, 'SIGTERM');
  tr.cleanup();
});

describe('build: RUN --mount=type=ssh', () => {
  test('--ssh default forwards $SSH_AUTH_SOCK at /run/buildkit/ssh_agent.0 for that RUN only', () => {
    const dir = context(
      'ssh-default',
      [
        'FROM busybox',
        'COPY agent-list /usr/local/bin/',
        'RUN --mount=type=ssh agent-list > /keys && echo "$SSH_AUTH_SOCK" > /sock && stat -c "%F %a %u" /run/buildkit/ssh_agent.0 > /stat',
        'RUN test -z "$SSH_AUTH_SOCK" && ! agent-list /run/buildkit/ssh_agent.0 2>/dev/null && echo none > /later',
      ].join('\n'),
    );
    const { id } = build(['-t', 'ssh:1', '--ssh', 'default', dir], { SSH_AUTH_SOCK: agentSock });
    // busybox's /run is empty: the mount point tsrun made is not in a layer
    const keys = inImage(id, 'cat /keys /sock /stat /later; ls -A /run; echo "[$SSH_AUTH_SOCK]"');
    assert.match(keys, /^1 keys\n\d+ tsrun-test-key\n\/run\/buildkit\/ssh_agent\.0\nsocket 600 0\nnone\n\[\]\n$/);
    const config = JSON.parse(tsrunOk(tr.root, ['image', 'inspect', id]))[0].Config;
    assert.equal(JSON.stringify(config).includes('SSH_AUTH_SOCK'), false);
    // the agent is not part of the key: another agent (here: the same key as a file) still hits
    const again = build(['-t', 'ssh:1', '--ssh', `default=${keyFile}`, dir]);
    assert.match(again.log, /agent-list > \/keys[^\n]*\n#\d+ CACHED/);
  });

  test('key files: tsrun runs its own ssh-agent for the build; id, target, uid and mode as given', () => {
    const dir = context(
      'ssh-keys',
      ['FROM busybox', 'COPY agent-list /bin/', 'RUN --mount=type=ssh,id=deploy,target=/tmp/agent,uid=1000,gid=100,mode=0660,required=true agent-list > /keys && echo "$SSH_AUTH_SOCK $(stat -c "%a %u %g" /tmp/agent)" > /sock'].join('\n'),
    );
    const { id } = build(['--ssh', `deploy=${keyFile}`, dir]);
    assert.match(inImage(id, 'cat /keys /sock; ls -A /tmp'), /^1 keys\n\d+ [^\n]*\n\/tmp\/agent 660 1000 100\n$/);
    assert.deepEqual(agentsUnder(tr.root), [], 'the ssh-agent tsrun started is still running');
  });

  test('an explicit socket path, and an optional mount with no --ssh is left out', () => {
    const dir = context('ssh-optional', ['FROM busybox', 'COPY agent-list /bin/', 'RUN --mount=type=ssh,id=other agent-list > /other 2>&1 || echo "no agent: [$SSH_AUTH_SOCK]" > /other', 'RUN --mount=type=ssh agent-list | head -1 > /one'].join('\n'));
    const { id } = build(['--ssh', `default=${agentSock}`, dir], { SSH_AUTH_SOCK: '' });
    assert.equal(inImage(id, 'cat /other /one'), 'no agent: []\n1 keys\n');
  });

  test('a required ssh mount without --ssh: BuildKit\'s error at file:line, the store as it was', () => {
    const dir = context('ssh-missing', 'FROM busybox\n\nRUN --mount=type=ssh,required=true true\n');
    const before = snapshotTree(tr.root);
    const r = tsrun(tr.root, ['build', '--network', 'none', dir], { env: { SSH_AUTH_SOCK: agentSock } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^tsrun: Dockerfile:3: no SSH key "default" forwarded from the client/m);
    const other = tsrun(tr.root, ['build', '--network', 'none', '--ssh', `deploy=${agentSock}`, dir]);
    assert.match(other.stderr, /^tsrun: Dockerfile:3: unset ssh forward key default/m);
    assert.deepEqual(snapshotTree(tr.root), before);
    assert.deepEqual(mountsUnder(tr.root), []);
  });

  test('bad --ssh values and bad ssh mounts: one line, nothing built', () => {
    const dir = context('ssh-bad', 'FROM busybox\nRUN --mount=type=ssh true\n');
    const before = snapshotTree(tr.root);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--ssh', 'default=/nonexistent/agent'], {}, /--ssh default: \/nonexistent\/agent: ENOENT/],
      [['--ssh', 'default'], { SSH_AUTH_SOCK: '' }, /invalid empty ssh agent socket for --ssh default: make sure SSH_AUTH_SOCK is set/],
      [['--ssh', `a=${agentSock}`, '--ssh', `a=${keyFile}`], {}, /duplicate ssh agent ID a/],
      [['--ssh', `a=${agentSock},${keyFile}`], {}, /cannot combine a socket and key files/],
      [['--ssh', `a=${path.join(tr.scratch, 'ssh-bad', 'Dockerfile')}`], {}, /cannot load the key .*Dockerfile/],
    ];
    for (const [args, env, re] of cases) {
      const r = tsrun(tr.root, ['build', '--network', 'none', ...args, dir], { env });
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('tsrun:')).length, 1, r.stderr);
    }
    const src = context('ssh-source', 'FROM busybox\nRUN --mount=type=ssh,source=/x true\n');
    const r = tsrun(tr.root, ['build', '--network', 'none', '--ssh', `default=${agentSock}`, src]);
    assert.match(r.stderr, /^tsrun: Dockerfile:2: ssh does not support source/m);
    assert.deepEqual(snapshotTree(tr.root), before);
    assert.deepEqual(agentsUnder(tr.root), []);
  });
});
