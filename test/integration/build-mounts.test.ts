/**
 * `tsrun build` end to end, the RUN side: RUN --mount (cache kept between builds, bind
 * read-only and rw-discarded, tmpfs, secrets that no blob ever holds), independent stages
 * built at once, and `builder prune` freeing what the cache held.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), data);
  }
  return dir;
}

function build(args: string[], env?: Record<string, string>, timeoutMs?: number): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--network', 'none', '--iidfile', iid, ...args], { env, timeoutMs });
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

/** Step lines: "[stage n/m] INSTR" → "CACHED" or "DONE" (FROM left out). */
function outcomes(log: string): string[] {
  const names = new Map<string, string>();
  const out = new Map<string, string>();
  for (const line of log.split('\n')) {
    let m = /^#(\d+) \[[^\]]+\] (.*)$/.exec(line);
    if (m && !m[2]!.startsWith('FROM ')) names.set(m[1]!, m[2]!);
    m = /^#(\d+) (CACHED|DONE)/.exec(line);
    if (m && names.has(m[1]!)) out.set(names.get(m[1]!)!, m[2]!);
  }
  return [...out.values()];
}

/** Every file under `dir` whose bytes contain `needle` (symlinks not followed). */
function filesContaining(dir: string, needle: Buffer): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

const inImage = (ref: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]);

before(() => {
  tr = tempRoot('tsrun-buildrun-');
  importBusybox(tr.root);
});
after(() => tr.cleanup());

describe('build: RUN --mount', () => {
  test('type=cache: the directory is kept between builds (even with --no-cache) and is not in the image', () => {
    const dir = context('cache-mount', {
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=cache,target=/root/.cache/tool,uid=1000,mode=0700 n=$(cat /root/.cache/tool/n 2>/dev/null || echo 0); echo $((n+1)) > /root/.cache/tool/n; echo $((n+1)) > /seen; stat -c "%u %a" /root/.cache/tool > /owner',
        'RUN --mount=type=cache,id=other,target=/c,sharing=locked echo locked > /c/x',
      ].join('\n'),
    });
    build(['-t', 'cm:1', dir]);
    assert.equal(inImage('cm:1', 'cat /seen /owner; ls -A /root; ls /c 2>&1 || true'), '1\n1000 700\nls: /c: No such file or directory\n');
    build(['--no-cache', '-t', 'cm:2', dir]);
    assert.equal(inImage('cm:2', 'cat /seen'), '2\n');
    // kept under ROOT/build-cache/mounts, one directory per id
    const mounts = fs.readdirSync(path.join(tr.root, 'build-cache', 'mounts'));
    assert.equal(mounts.length, 2);
    assert.deepEqual(mountsUnder(tr.root), []);
  });

  test('type=bind: the context read-only by default; rw writes are thrown away; from=STAGE', () => {
    const dir = context('bind-mount', {
      Dockerfile: [
        'FROM busybox AS tools',
        'RUN mkdir /out && printf "#!/bin/sh\\necho from-stage-tool\\n" > /out/tool && chmod +x /out/tool',
        'FROM busybox',
        'RUN --mount=type=bind,source=src,target=/src cat /src/a.txt > /copied; if echo x > /src/a.txt; then echo WROTE > /ro; else echo refused > /ro; fi',
        'RUN --mount=type=bind,source=src,target=/mnt/src,rw echo changed > /mnt/src/a.txt && echo new > /mnt/src/new.txt && cat /mnt/src/a.txt > /rw',
        'RUN --mount=type=bind,from=tools,source=/out,target=/t /t/tool > /fromstage',
      ].join('\n'),
      'src/a.txt': 'original\n',
    });
    build(['-t', 'bm:1', dir]);
    assert.equal(inImage('bm:1', 'cat /copied /ro /rw /fromstage; ls -d /src /mnt/src 2>&1 || true'), 'original\nrefused\nchanged\nfrom-stage-tool\nls: /src: No such file or directory\nls: /mnt/src: No such file or directory\n');
    assert.equal(fs.readFileSync(path.join(dir, 'src', 'a.txt'), 'utf8'), 'original\n');
    assert.equal(fs.existsSync(path.join(dir, 'src', 'new.txt')), false);
    // the bound files are part of the key: a changed byte reruns the step
    fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'original!\n');
    const again = build(['-t', 'bm:2', dir]);
    assert.deepEqual(outcomes(again.log), ['CACHED', 'DONE', 'DONE', 'DONE']);
    assert.equal(inImage('bm:2', 'cat /copied'), 'original!\n');
    assert.deepEqual(mountsUnder(tr.root), []);
  });

  test('type=tmpfs: a tmpfs of the given size, nothing written there is committed', () => {
    const dir = context('tmpfs-mount', {
      Dockerfile: 'FROM busybox\nRUN --mount=type=tmpfs,target=/scratch/deep,size=2097152 dd if=/dev/zero of=/scratch/deep/big bs=1024 count=512 2>/dev/null && df -k /scratch/deep | tail -1 | tr -s " " | cut -d" " -f2 > /size\n',
    });
    const { id } = build([dir]);
    assert.equal(inImage(id, 'cat /size; ls /scratch 2>&1 || true'), '2048\nls: /scratch: No such file or directory\n');
    const cfg = JSON.parse(tsrunOk(tr.root, ['image', 'inspect', id]))[0];
    assert.equal(cfg.RootFS.Layers.length, 2); // busybox's and the one with /size only
  });

  test('type=secret: a file and an env var during the step, in no blob, key or history', () => {
    const value = 'S3cr3t-' + process.pid + '-' + Date.now();
    const file = path.join(tr.scratch, 'token');
    fs.writeFileSync(file, value);
    const dir = context('secret-mount', {
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=secret,id=tok --mount=type=secret,id=api,env=API_KEY,required test "$(cat /run/secrets/tok)" = "$API_KEY" && stat -c "%a %u" /run/secrets/tok > /perm && echo checked > /ok',
        'RUN --mount=type=secret,id=tok,target=/etc/app/token,mode=0440,uid=1000 stat -c "%a %u" /etc/app/token > /perm2',
        'RUN --mount=type=secret,id=absent echo optional-missing-ok > /absent',
      ].join('\n'),
    });
    const { id, log } = build(['-t', 'sec:1', '--secret', `id=tok,src=${file}`, '--secret', 'id=api,env=TSRUN_TEST_SECRET', dir], { TSRUN_TEST_SECRET: value });
    assert.equal(inImage('sec:1', 'cat /ok /perm /perm2 /absent; ls /run/secrets /etc/app 2>&1 || true'), 'checked\n400 0\n440 1000\noptional-missing-ok\nls: /run/secrets: No such file or directory\nls: /etc/app: No such file or directory\n');
    assert.doesNotMatch(log, new RegExp(value));
    assert.doesNotMatch(tsrunOk(tr.root, ['history', '--no-trunc', id]), new RegExp(value));
    assert.deepEqual(filesContaining(tr.root, Buffer.from(value)), []);
    // save too: every blob the image has, as exported
    const tar = path.join(tr.scratch, 'sec.tar');
    tsrunOk(tr.root, ['save', '-o', tar, 'sec:1']);
    assert.equal(fs.readFileSync(tar).includes(Buffer.from(value)), false);
    // the value is not in the key: another value still hits the cache
    fs.writeFileSync(file, 'other-value');
    const again = build(['-t', 'sec:1', '--secret', `id=tok,src=${file}`, '--secret', 'id=api,env=TSRUN_TEST_SECRET', dir], { TSRUN_TEST_SECRET: 'other-value' });
    assert.deepEqual(outcomes(again.log), ['CACHED', 'CACHED', 'CACHED']);
  });

  test('a required secret that was not given: file:line, non-zero exit, the store as it was', () => {
    const dir = context('secret-missing', { Dockerfile: 'FROM busybox\n\nRUN --mount=type=secret,id=nope,required=true cat /run/secrets/nope\n' });
    const before = snapshotTree(tr.root);
    const r = tsrun(tr.root, ['build', '--network', 'none', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^tsrun: Dockerfile:3: secret nope: not found/m);
    assert.deepEqual(snapshotTree(tr.root), before);
    assert.deepEqual(mountsUnder(tr.root), []);
  });
});

describe('build: stages', () => {
  test('independent stages run at the same time', () => {
    // each stage's RUN marks its arrival in a shared cache mount and waits (up to 60 s) for the
    // other's mark: both can finish only when both ran at once, however slow the machine is
    const meet = `meet-${process.pid}-${Date.now()}`;
    const stage = (n: string, other: string) => [
      `FROM busybox AS ${n}`,
      `RUN --mount=type=cache,id=${meet},target=/meet touch /meet/${n} && i=0 && while [ ! -e /meet/${other} ]; do i=$((i+1)); if [ $i -gt 600 ]; then echo "stage ${n} ran alone: stage ${other} never started beside it"; exit 1; fi; sleep 0.1; done && echo met > /${n}.met`,
    ];
    const dir = context('parallel', {
      Dockerfile: [...stage('a', 'b'), ...stage('b', 'a'), 'FROM busybox AS unused', 'RUN exit 9', 'FROM busybox', 'COPY --from=a /a.met /', 'COPY --from=b /b.met /'].join('\n'),
    });
    const { id, log } = build([dir], undefined, 300_000);
    assert.doesNotMatch(log, /\[unused /);
    assert.equal(inImage(id, 'cat /a.met /b.met'), 'met\nmet\n');
  });

  test('a failing stage stops the stages running beside it', () => {
    const dir = context('parallel-fail', {
      Dockerfile: 'FROM busybox AS a\nRUN sleep 0.5; exit 7\nFROM busybox AS b\nRUN sleep 1000\nFROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n',
    });
    const before = snapshotTree(tr.root);
    // b's RUN would sleep 1000 s: a build that ends with a's exit code within the 300 s it is given
    // stopped it (a fixed bound well below the sleep, not a guess at how fast the machine is)
    const r = tsrun(tr.root, ['build', '--network', 'none', dir], { timeoutMs: 300_000 });
    assert.equal(r.signal, null, `the sleeping stage was not stopped: ${r.stderr}`);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /^tsrun: Dockerfile:2: RUN /m);
    assert.deepEqual(snapshotTree(tr.root), before);
    assert.equal(tsrunOk(tr.root, ['ps', '-aq']), '');
    assert.deepEqual(mountsUnder(tr.root), []);
  });
});

describe('builder prune', () => {
  test('the cache outlives rmi; builder prune frees its layers and cache mounts', () => {
    const dir = context('prune', {
      Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/blob bs=1024 count=256 2>/dev/null; dd if=/dev/urandom of=/big bs=1024 count=1024 2>/dev/null\n',
    });
    build(['-t', 'prune:1', dir]);
    tsrunOk(tr.root, ['rmi', 'prune:1']);
    // the step's layer is still there: the same build hits the cache
    const again = build(['-t', 'prune:1', dir]);
    assert.match(again.log, /CACHED/);
    tsrunOk(tr.root, ['rmi', 'prune:1']);
    const r = tsrun(tr.root, ['builder', 'prune', '-f']);
    assert.equal(r.code, 0, r.stderr);
    const m = /^Total:\s+([\d.]+)(kB|MB)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    const bytes = Number(m[1]) * (m[2] === 'MB' ? 1e6 : 1e3);
    assert.ok(bytes > 1.2e6, `freed only ${r.stdout}`);
    assert.deepEqual(fs.readdirSync(path.join(tr.root, 'build-cache', 'mounts')), []);
    const after = build(['-t', 'prune:1', dir]);
    assert.doesNotMatch(after.log, /CACHED/);
    // -a also drops records whose layers an image still uses (they cost nothing, but go)
    tsrunOk(tr.root, ['builder', 'prune', '-a', '-f']);
    assert.doesNotMatch(build(['-t', 'prune:1', dir]).log, /CACHED/);
    assert.equal(inImage('prune:1', 'ls -A /cache 2>&1 || true; wc -c < /big'), 'ls: /cache: No such file or directory\n1048576\n');
  });
});
