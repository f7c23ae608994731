/**
 * Git sources: a build context given as a git URL (`git://…#REF:SUBDIR` served by a `git daemon`
 * the test starts on 127.0.0.1, and `file://`) and `ADD <git URL> /dst` with and without
 * --keep-git-dir, against a repository the test makes. The commit keys the ADD step (cached
 * while the ref does not move, rerun when it does); bad refs and unreachable remotes fail with
 * one line (file:line for ADD) and leave the store as it was.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { buildOk, tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;
let daemon: ChildProcess | undefined;
let work: string;
let served: string;
let url: string;

function git(args: string[], cwd = work): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } });
  assert.equal(r.status, 0, `git ${args.join(' ')} failed (git is in setup.sh): ${r.stderr}`);
  return r.stdout.trim();
}

function write(files: Record<string, string>): void {
  for (const [f, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, f)), { recursive: true });
    fs.writeFileSync(path.join(work, f), data);
  }
}

function commit(msg: string): string {
  git(['add', '-A']);
  git(['commit', '-q', '-m', msg]);
  git(['push', '-q', 'origin', 'main', '--tags']);
  return git(['rev-parse', 'HEAD']);
}

const build = (args: string[]) => buildOk(tr, args);

const inImage = (ref: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]);

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

let v1: string;

before(async () => {
  tr = tempRoot('tsrun-buildgit-');
  importBusybox(tr.root);
  const srv = path.join(tr.scratch, 'srv');
  served = path.join(srv, 'repo.git');
  fs.mkdirSync(served, { recursive: true });
  git(['init', '-q', '--bare', '-b', 'main', served], srv);
  work = path.join(tr.scratch, 'work');
  fs.mkdirSync(work);
  git(['init', '-q', '-b', 'main']);
  git(['remote', 'add', 'origin', served]);
  write({
    Dockerfile: 'FROM busybox\nCOPY . /src\n',
    '.dockerignore': 'secret.txt\n',
    'secret.txt': 'ignored\n',
    'hello.txt': 'v1\n',
    'sub/Dockerfile': 'FROM busybox\nCOPY . /sub\n',
    'sub/in-sub.txt': 'sub v1\n',
  });
  v1 = commit('v1');
  git(['tag', '-a', '-m', 'tag v1', 'v1']);
  git(['push', '-q', 'origin', 'v1']);
  write({ 'hello.txt': 'v2\n', 'sub/in-sub.txt': 'sub v2\n' });
  commit('v2');
  // the daemon serving our repository, not merely something listening on the port: a port found
  // free can be taken by another test before the daemon binds it (then the daemon exits: retried)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const d = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${srv}`, '--listen=127.0.0.1', `--port=${port}`, srv], { stdio: 'ignore' });
    let exited = false;
    d.once('exit', () => (exited = true));
    daemon = d;
    url = `git://127.0.0.1:${port}/repo.git`;
    let serving = false;
    for (const end = Date.now() + 60_000; !serving && !exited && Date.now() < end; ) {
      serving = spawnSync('git', ['ls-remote', url], { stdio: 'ignore', timeout: 30_000 }).status === 0;
      if (!serving) await new Promise((r) => setTimeout(r, 100));
    }
    if (serving && !exited) break;
    if (!exited) d.kill('SIGKILL');
    assert.ok(attempt < 3, 'git daemon did not serve the repository');
  }
});

after(() => {
  if (daemon?.pid !== undefined && daemon.exitCode === null) process.kill(daemon.pid, 'SIGTERM');
  tr.cleanup();
});

/** Nothing left in the store's temp dir (checkouts are removed). */
function noTemps(): void {
  const tmp = path.join(tr.root, 'tmp');
  const left = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.includes('-git-')) : [];
  assert.deepEqual(left, []);
}

describe('build: git sources', () => {
  test('a git URL as the context: HEAD, #TAG:SUBDIR, and file://; .dockerignore applies, no .git', () => {
    const head = build(['-t', 'g:head', url]);
    assert.equal(inImage(head.id, 'cat /src/hello.txt; ls -A /src | tr "\\n" " "'), 'v2\n.dockerignore Dockerfile hello.txt sub ');
    const tag = build(['-t', 'g:v1', `${url}#v1:sub`]);
    assert.equal(inImage(tag.id, 'ls -A /sub | tr "\\n" " "; cat /sub/in-sub.txt'), 'Dockerfile in-sub.txt sub v1\n');
    const file = build([`file://${served}#${v1}`]);
    assert.equal(inImage(file.id, 'cat /src/hello.txt'), 'v1\n');
    noTemps();
  });

  test('ADD <git URL>: the checkout without .git, --keep-git-dir keeps it; cached while the ref stays, rerun when it moves', () => {
    const dir = path.join(tr.scratch, 'add-ctx');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nADD ${url}#v1 /repo\nADD --keep-git-dir=true ${url}#main /full\nADD --chown=5:6 ${url}#main:sub /sub/\n`);
    const first = build([dir]);
    const main = git(['rev-parse', 'HEAD']);
    assert.equal(
      inImage(first.id, 'cat /repo/hello.txt; ls -A /repo | tr "\\n" " "; echo; cat /full/hello.txt; test -d /full/.git && echo has-git; ls -A /sub | tr "\\n" " "; stat -c "%u:%g" /sub/in-sub.txt'),
      'v1\n.dockerignore Dockerfile hello.txt secret.txt sub \nv2\nhas-git\nDockerfile in-sub.txt 5:6\n',
    );
    // the kept .git names the commit checked out
    assert.match(inImage(first.id, 'cat /full/.git/HEAD'), new RegExp(`^${main}\\n$`));
    const again = build([dir]);
    assert.equal((again.log.match(/#\d+ CACHED/g) ?? []).length, 3, again.log);
    write({ 'hello.txt': 'v3\n' });
    commit('v3');
    const moved = build([dir]);
    assert.match(moved.log, /ADD git:[^\n]*#v1 \/repo\n#\d+ CACHED/);
    assert.match(moved.log, /ADD git:[^\n]*#main \/full\n#\d+ DONE/);
    assert.equal(inImage(moved.id, 'cat /repo/hello.txt /full/hello.txt'), 'v1\nv3\n');
    noTemps();
  });

  test("BuildKit's query form (?ref= &subdir= &tag= &branch= &checksum=) for the context and ADD; #BRANCH and #COMMIT:SUBDIR", () => {
    const mainHello = git(['show', 'HEAD:hello.txt']) + '\n';
    const q = build([`${url}?ref=v1&subdir=sub`]);
    assert.equal(inImage(q.id, 'ls -A /sub | tr "\\n" " "; cat /sub/in-sub.txt'), 'Dockerfile in-sub.txt sub v1\n');
    const branch = build([`file://${served}?branch=main`]);
    assert.equal(inImage(branch.id, 'cat /src/hello.txt'), mainHello);
    const frag = build([`${url}#main`]);
    assert.equal(inImage(frag.id, 'cat /src/hello.txt'), mainHello);
    const commitSub = build([`${url}#${v1}:sub`]);
    assert.equal(inImage(commitSub.id, 'cat /sub/in-sub.txt'), 'sub v1\n');
    const dir = path.join(tr.scratch, 'query-ctx');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'Dockerfile'),
      `FROM busybox\nADD ${url}?tag=v1&subdir=sub /a\nADD ${url}?ref=v1&checksum=${v1.slice(0, 12)}&keep-git-dir=true /b\nADD ${url}?subdir=sub#${v1} /c\n`,
    );
    const add = build([dir]);
    assert.equal(inImage(add.id, 'cat /a/in-sub.txt; cat /b/hello.txt; test -d /b/.git && echo has-git; cat /c/in-sub.txt; test -e /a/.git || echo no-git'), 'sub v1\nv1\nhas-git\nsub v1\nno-git\n');
    assert.equal((build([dir]).log.match(/#\d+ CACHED/g) ?? []).length, 3);
    noTemps();
  });

  test('a bad ref, a missing subdir, an unreachable remote, COPY of a git URL: one line, the store as it was', async () => {
    const closed = await freePort();
    const before = snapshotTree(tr.root);
    const dir = path.join(tr.scratch, 'bad-ctx');
    fs.mkdirSync(dir, { recursive: true });
    const cases: [string, RegExp][] = [
      [`FROM busybox\n\nADD ${url}#nope /x\n`, /^tsrun: Dockerfile:3: git repository git:\/\/127\.0\.0\.1:\d+\/repo\.git: ref "nope" not found/m],
      [`FROM busybox\nADD ${url}#main:missing /x\n`, /^tsrun: Dockerfile:2: git repository [^ ]+: missing is not a directory of main/m],
      [`FROM busybox\nADD git://127.0.0.1:${closed}/repo.git /x\n`, /^tsrun: Dockerfile:2: failed to read git repository git:\/\/127\.0\.0\.1:\d+\/repo\.git: .*/m],
      [`FROM busybox\nCOPY ${url} /x\n`, /^tsrun: Dockerfile:2: COPY git:[^ ]+: source can't be a git URL for COPY/m],
      [`FROM busybox\nADD ${url} hello.txt /x/\n`, /^tsrun: Dockerfile:2: ADD git:[^ ]+: a git source must be the only source of its ADD/m],
      [`FROM busybox\nADD ${url}?ref=v1&checksum=0000000 /x\n`, /^tsrun: Dockerfile:2: git repository [^ ]+: expected checksum to match 0000000, got [0-9a-f]{40}/m],
      [`FROM busybox\nADD ${url}?depth=1 /x\n`, /^tsrun: Dockerfile:2: invalid git URL "git:[^"]+": unexpected query "depth"/m],
      [`FROM busybox\nADD ${url}?tag=v1#main /x\n`, /^tsrun: Dockerfile:2: invalid git URL [^ ]+: ref conflicts: "main" vs "refs\/tags\/v1"/m],
    ];
    for (const [df, re] of cases) {
      fs.writeFileSync(path.join(dir, 'Dockerfile'), df);
      fs.writeFileSync(path.join(dir, 'hello.txt'), 'x');
      const r = tsrun(tr.root, ['build', '--network', 'none', dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('tsrun:')).length, 1, r.stderr);
    }
    for (const [ctx, re] of [
      [`${url}#nope`, /^tsrun: unable to prepare context: git repository [^ ]+: ref "nope" not found/m],
      [`git://127.0.0.1:${closed}/repo.git`, /^tsrun: unable to prepare context: failed to read git repository/m],
      [`${url}?branch=nope`, /^tsrun: unable to prepare context: git repository [^ ]+: ref "refs\/heads\/nope" not found/m],
      [`${url}?ref=v1&subdir=missing`, /^tsrun: unable to prepare context: git repository [^ ]+: missing is not a directory of v1/m],
    ] as const) {
      const r = tsrun(tr.root, ['build', ctx]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
    }
    assert.deepEqual(snapshotTree(tr.root), before);
    assert.deepEqual(mountsUnder(tr.root), []);
    noTemps();
  });
});
