/**
 * `tsrun build` end to end on the busybox image: real RUN containers, COPY layers, the
 * step cache, and refused input leaving the store as it was.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, tsrunSpawn, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';

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

/** Build; returns the image ID and the progress lines. */
function build(args: string[]): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--iidfile', iid, ...args]);
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

/** Step lines: "[stage n/m] INSTR" → "CACHED" or "DONE". */
function outcomes(log: string): Map<string, string> {
  const names = new Map<string, string>();
  const out = new Map<string, string>();
  for (const line of log.split('\n')) {
    let m = /^#(\d+) \[[^\]]+\] (.*)$/.exec(line);
    if (m && !m[2]!.startsWith('FROM ')) names.set(m[1]!, m[2]!);
    m = /^#(\d+) (CACHED|DONE)/.exec(line);
    if (m && names.has(m[1]!)) out.set(names.get(m[1]!)!, m[2]!);
  }
  return out;
}

before(() => {
  tr = tempRoot('tsrun-build-');
  importBusybox(tr.root);
});
after(() => tr.cleanup());

describe('build', () => {
  test('multi-stage with COPY --from, an unused stage never built, ARG/ENV scoping, .dockerignore, USER/WORKDIR ownership', () => {
    const dir = context('multi', {
      'Dockerfile': [
        'ARG BASE=busybox',
        'ARG GLOBAL=g1',
        'FROM ${BASE} AS unused',
        'RUN echo UNUSED-STAGE-RAN && exit 1',
        'FROM ${BASE} AS builder',
        'ARG GLOBAL',
        'ARG LOCAL=l1',
        'ENV LOCAL=from-env',
        'RUN echo "global=$GLOBAL local=$LOCAL base=$BASE" > /made.txt',
        'FROM ${BASE}',
        'COPY app /app/',
        'COPY --from=builder /made.txt /made.txt',
        'USER 1000:1000',
        'WORKDIR /home/work',
        'RUN touch mine && stat -c "%u:%g" /home/work mine > /tmp/owners',
        'USER root',
        'LABEL k=v',
        'CMD ["sh", "-c", "cat /made.txt /tmp/owners; ls -a /app"]',
      ].join('\n'),
      'app/keep.txt': 'keep\n',
      'app/drop.log': 'drop\n',
      'app/sub/also.log': 'also\n',
      'app/sub/keep.log': 'keep\n',
      '.dockerignore': '**/*.log\n!app/sub/keep.log\n',
    });
    const { id, log } = build(['-t', 'multi:1', '--build-arg', 'GLOBAL=g2', '--label', 'extra=yes', dir]);
    assert.doesNotMatch(log, /UNUSED-STAGE-RAN|\[unused /);
    assert.match(log, /^#\d+ \[builder 2\/2\] RUN \|2 GLOBAL=g2 LOCAL=from-env \/bin\/sh -c echo/m);
    assert.match(log, new RegExp(`writing image ${id} done`));
    const out = tsrunOk(tr.root, ['run', '--rm', 'multi:1']);
    assert.equal(out, 'global=g2 local=from-env base=\n1000:1000\n1000:1000\n.\n..\nkeep.txt\nsub\n');
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'multi:1', 'ls', '/app/sub']), 'keep.log\n');
    const cfg = JSON.parse(tsrunOk(tr.root, ['image', 'inspect', 'multi:1']))[0];
    assert.deepEqual(cfg.Config.Labels, { k: 'v', extra: 'yes' });
    assert.deepEqual(cfg.Config.Cmd, ['sh', '-c', 'cat /made.txt /tmp/owners; ls -a /app']);
    assert.equal(cfg.Config.User, 'root');
    assert.equal(cfg.Config.WorkingDir, '/home/work');
    // busybox's import layer, then COPY app, COPY --from, WORKDIR, RUN: four new layers
    assert.equal(cfg.RootFS.Layers.length, 5);
    const hist = tsrunOk(tr.root, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'multi:1']).split('\n');
    assert.equal(hist[0], 'CMD ["sh" "-c" "cat /made.txt /tmp/owners; ls -a /app"]|0B');
    assert.ok(hist.includes('COPY app /app/ # buildkit|' + hist.find((h) => h.startsWith('COPY app'))!.split('|')[1]));
    assert.ok(hist.includes('USER 1000:1000|0B'));
  });

  test('-q prints only the image ID; --target builds only the stages it needs', () => {
    const dir = context('target', {
      Dockerfile: 'FROM busybox AS one\nRUN echo one > /one\nFROM busybox AS two\nRUN echo TWO-RAN && exit 3\n',
    });
    const r = tsrun(tr.root, ['build', '-q', '--target', 'one', '-t', 'one:1', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[a-f0-9]{64}\n$/);
    assert.equal(r.stderr, '');
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'one:1', 'cat', '/one']), 'one\n');
  });

  test('RUN with --network none sees only loopback; by default it is on the bridge', () => {
    const dir = context('net', { Dockerfile: 'FROM busybox\nRUN ls /sys/class/net | tr "\\n" " " > /nets\n' });
    build(['--network', 'none', '-t', 'net:1', dir]);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'net:1', 'cat', '/nets']), 'lo ');
    // the default: run's bridge network, an interface of its own besides loopback
    build(['-t', 'net:2', dir]);
    assert.match(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'net:2', 'cat', '/nets']), /^eth0 lo $/);
  });

  test('cache: all cached again; a touched file still hits; one changed byte reruns from there; a late build arg keeps earlier steps', () => {
    const dir = context('cache', {
      Dockerfile: [
        'FROM busybox',
        'RUN echo first > /first',
        'COPY data.txt /data.txt',
        'RUN cat /data.txt > /copy.txt',
        'ARG LATE=a',
        'RUN echo "$LATE" > /late',
      ].join('\n'),
      'data.txt': 'data-1\n',
    });
    const first = build(['-t', 'cache:1', dir]);
    assert.deepEqual([...outcomes(first.log).values()], ['DONE', 'DONE', 'DONE', 'DONE']);

    const again = build(['-t', 'cache:1', dir]);
    assert.deepEqual([...outcomes(again.log).values()], ['CACHED', 'CACHED', 'CACHED', 'CACHED']);

    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'data.txt'), later, later);
    const touched = build(['-t', 'cache:1', dir]);
    assert.deepEqual([...outcomes(touched.log).values()], ['CACHED', 'CACHED', 'CACHED', 'CACHED']);

    fs.writeFileSync(path.join(dir, 'data.txt'), 'data-2\n');
    const changed = build(['-t', 'cache:1', dir]);
    assert.deepEqual([...outcomes(changed.log).values()], ['CACHED', 'DONE', 'DONE', 'DONE']);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'cache:1', 'cat', '/copy.txt', '/late']), 'data-2\na\n');

    const arg = build(['-t', 'cache:1', '--build-arg', 'LATE=b', dir]);
    assert.deepEqual([...outcomes(arg.log).values()], ['CACHED', 'CACHED', 'CACHED', 'DONE']);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', 'cache:1', 'cat', '/late']), 'b\n');

    const none = build(['-t', 'cache:1', '--no-cache', dir]);
    assert.deepEqual([...outcomes(none.log).values()], ['DONE', 'DONE', 'DONE', 'DONE']);
  });

  test('a RUN that changes nothing adds no layer, only empty_layer history', () => {
    const dir = context('nochange', { Dockerfile: 'FROM busybox\nRUN true\n' });
    const { id } = build([dir]);
    const cfg = JSON.parse(tsrunOk(tr.root, ['image', 'inspect', id]))[0];
    assert.equal(cfg.RootFS.Layers.length, 1);
  });

  describe('bad input: one line with file:line, non-zero exit, the store as it was', () => {
    const cases: [string, Record<string, string>, string[], RegExp][] = [
      ['unknown instruction', { Dockerfile: 'FROM busybox\nFROBNICATE x\n' }, [], /^tsrun: Dockerfile:2: unknown instruction: FROBNICATE/],
      ['missing stage', { Dockerfile: 'FROM busybox AS a\nRUN true\n' }, ['--target', 'nope'], /^tsrun: Dockerfile: target stage "nope" could not be found/],
      ['COPY outside the context', { Dockerfile: 'FROM busybox\nCOPY ../x /x\n' }, [], /^tsrun: Dockerfile:2: COPY \.\.\/x: forbidden path outside the build context/],
      ['COPY of an excluded file', { Dockerfile: 'FROM busybox\n\nCOPY secret.txt /s\n', 'secret.txt': 's', '.dockerignore': 'secret.txt\n' }, [], /^tsrun: Dockerfile:3: COPY secret.txt: "\/secret.txt" is excluded by \.dockerignore/],
      ['COPY of a missing file', { Dockerfile: 'FROM busybox\nCOPY nothere /x\n' }, [], /^tsrun: Dockerfile:2: failed to compute cache key: "\/nothere": not found/],
      ['a RUN that fails', { Dockerfile: 'FROM busybox\nENV A=1\nRUN echo last words && exit 7\n' }, [], /^tsrun: Dockerfile:3: RUN \/bin\/sh -c echo last words && exit 7: process .* exit code: 7 \(its last output: last words\)/],
      ['a bad flag', { Dockerfile: 'FROM busybox\n' }, ['--network', 'bridge0'], /^tsrun: invalid --network "bridge0"/],
    ];
    for (const [name, files, args, msg] of cases) {
      test(name, () => {
        const dir = context('bad-' + name.replace(/\W+/g, '-'), files);
        const before = snapshotTree(tr.root);
        const r = tsrun(tr.root, ['build', ...args, dir]);
        assert.notEqual(r.code, 0);
        const errLine = r.stderr.split('\n').filter((l) => l.startsWith('tsrun:'));
        assert.equal(errLine.length, 1, r.stderr);
        assert.match(errLine[0]!, msg);
        if (name === 'a RUN that fails') assert.equal(r.code, 7);
        assert.deepEqual(snapshotTree(tr.root), before);
        assert.deepEqual(mountsUnder(tr.root), []);
      });
    }

    test('Ctrl-C during a RUN: exit 130, no container, mount or image left', async () => {
      const dir = context('bad-interrupt', { Dockerfile: 'FROM busybox\nRUN echo started && sleep 100\n' });
      const before = snapshotTree(tr.root);
      const child = tsrunSpawn(tr.root, ['build', dir]);
      let err = '';
      await new Promise<void>((resolve, reject) => {
        // generous: the RUN's first step on the default network is its namespace's setup, queued on
        // netavark's host-wide lock behind every other test's networks on a busy machine
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the RUN never started: ${err}`));
        }, 180_000);
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (/ started$/m.test(err)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(code, 130, err);
      assert.match(err, /^tsrun: build interrupted/m);
      assert.deepEqual(snapshotTree(tr.root), before);
      assert.deepEqual(mountsUnder(tr.root), []);
      assert.equal(tsrunOk(tr.root, ['ps', '-aq']), '');
    });

    test('a symlink in the context pointing outside it', () => {
      const dir = context('bad-symlink', { Dockerfile: 'FROM busybox\nCOPY stuff /stuff/\n', 'stuff/ok.txt': 'ok' });
      fs.symlinkSync('../../../etc/passwd', path.join(dir, 'stuff', 'escape'));
      const before = snapshotTree(tr.root);
      const r = tsrun(tr.root, ['build', dir]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^tsrun: Dockerfile:2: COPY stuff: the symlink stuff\/escape -> \.\.\/\.\.\/\.\.\/etc\/passwd points outside the build context/m);
      assert.deepEqual(snapshotTree(tr.root), before);
    });
  });
});
