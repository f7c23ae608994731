/**
 * `tsrun build`: what COPY and ADD take in, end to end on the busybox image: ADD of local
 * archives (by content) and of URLs from a loopback server, heredocs in COPY and RUN,
 * COPY's --from an image, --chown/--chmod/--link/--exclude/--parents, xattrs; and the
 * refused forms (file:line, non-zero exit, the store as it was).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, mountsUnder, type TempRoot } from '../helpers/cli.js';
import { startFileServer, type FileServer } from '../helpers/http-files.js';

let tr: TempRoot;
let srv: FileServer;
const PAYLOAD = 'downloaded payload\n';
const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';

function context(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), data);
  }
  return dir;
}

function build(args: string[]): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--progress', 'plain', '--iidfile', iid, ...args]);
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

const sh = (image: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script]);

/** A tar of one directory `t` holding `f` (text), compressed with `tool` (or plain). */
function tarOf(tool: string | undefined, text: string): Buffer {
  const src = fs.mkdtempSync(path.join(tr.scratch, 'tarsrc-'));
  fs.mkdirSync(path.join(src, 't'));
  fs.writeFileSync(path.join(src, 't', 'f'), text);
  const t = spawnSync('tar', ['-C', src, '--owner=7', '--group=8', '-cf', '-', 't']);
  assert.equal(t.status, 0, t.stderr?.toString());
  if (!tool) return t.stdout;
  const c = spawnSync(tool, ['-c'], { input: t.stdout });
  assert.equal(c.status, 0, `${tool} is a test peer (scripts/setup.sh installs it): ${c.stderr?.toString()}`);
  return c.stdout;
}

before(async () => {
  tr = tempRoot('tsrun-build-src-');
  importBusybox(tr.root);
  srv = await startFileServer(path.join(tr.scratch, 'http'), {
    '/files/tool.txt': { body: PAYLOAD, lastModified: LAST_MODIFIED },
    '/files/other.bin': { body: 'other\n' },
    '/files/archive.tar.gz': { body: 'not unpacked: a URL is never an archive\n' },
  });
});
after(() => {
  srv?.stop();
  tr.cleanup();
});

describe('ADD', () => {
  test('local tars unpack by content (plain, gzip, bzip2, xz, zstd); other files and dirs copy as COPY', () => {
    const dir = context('add-local', {
      'plain.bin': tarOf(undefined, 'plain\n'),
      'g.tgz': tarOf('gzip', 'gzip\n'),
      'b.data': tarOf('bzip2', 'bzip2\n'),
      'x.txz': tarOf('xz', 'xz\n'),
      'z.tar.zst': tarOf('zstd', 'zstd\n'),
      'fake.tar.gz': 'just text with a tar name\n',
      'dir/in.txt': 'in a dir\n',
      Dockerfile: [
        'FROM busybox',
        'ADD plain.bin /plain',
        'ADD g.tgz b.data /two/',
        'ADD x.txz z.tar.zst /three/',
        'ADD fake.tar.gz /fake/',
        'ADD dir /copied/',
        'ADD --chown=1000:1000 g.tgz /owned/',
      ].join('\n'),
    });
    build(['-t', 'add-local:1', dir]);
    assert.equal(
      sh('add-local:1', 'cat /plain/t/f /two/t/f /three/t/f; ls /two/t; ls /fake; cat /fake/fake.tar.gz /copied/in.txt; stat -c "%u:%g" /plain/t/f /owned/t /owned/t/f'),
      // two archives into one dir: the second's t/f replaces the first's (docker's order)
      'plain\nbzip2\nzstd\nf\nfake.tar.gz\njust text with a tar name\nin a dir\n7:8\n1000:1000\n1000:1000\n',
    );
  });

  test('a URL: downloaded, named after the URL, mode 0600, mtime from Last-Modified, --checksum verified; a cached step does not download again', () => {
    const sum = crypto.createHash('sha256').update(PAYLOAD).digest('hex');
    const dir = context('add-url', {
      Dockerfile: [
        'FROM busybox',
        `ADD ${srv.base}/files/tool.txt /opt/`,
        `ADD --checksum=sha256:${sum} ${srv.base}/files/tool.txt /checked.txt`,
        `ADD ${srv.base}/redirect/files/other.bin ${srv.base}/files/archive.tar.gz /many/`,
      ].join('\n'),
    });
    build(['-t', 'add-url:1', dir]);
    assert.equal(
      sh('add-url:1', 'cat /opt/tool.txt /checked.txt; stat -c "%a %Y" /opt/tool.txt; ls /many; cat /many/archive.tar.gz'),
      `${PAYLOAD}${PAYLOAD}600 ${Date.parse(LAST_MODIFIED) / 1000}\narchive.tar.gz\nother.bin\nnot unpacked: a URL is never an archive\n`,
    );
    const before = srv.requests().filter((r) => r === '/files/tool.txt').length;
    const again = build(['-t', 'add-url:1', dir]);
    assert.deepEqual(again.log.match(/^#\d+ (CACHED|DONE)/gm)?.slice(1), ['#2 CACHED', '#3 CACHED', '#4 CACHED']);
    // without --checksum the URL is fetched again to know its content (BuildKit asks too); with it, not
    assert.equal(srv.requests().filter((r) => r === '/files/tool.txt').length, before + 1);
  });

  test('--keep-git-dir without a git source is refused at its line (git sources: build-git.test.ts)', () => {
    for (const [df, msg] of [['FROM busybox\nADD --keep-git-dir=true x /src\n', /^tsrun: Dockerfile:2: ADD --keep-git-dir applies to git sources only/m]] as const) {
      const dir = context('add-git-' + crypto.randomBytes(3).toString('hex'), { Dockerfile: df, x: 'x' });
      const r = tsrun(tr.root, ['build', dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, msg);
    }
  });
});

describe('heredocs', () => {
  test('COPY <<EOF files (several per line, <<-, quoted delimiters not expanded); RUN <<EOF, RUN with a shebang heredoc, RUN sh <<EOF', () => {
    const dir = context('heredoc', {
      Dockerfile: [
        'FROM busybox',
        'ARG WHO=world',
        'COPY <<EOF /hello.txt',
        'hello $WHO',
        'EOF',
        'COPY --chmod=755 <<one <<"two" /docs/',
        'first $WHO',
        'one',
        'second $WHO',
        'two',
        'COPY <<-EOF /tabs.txt',
        '\tindented',
        '\t\ttwice',
        '\tEOF',
        'RUN <<EOF',
        'echo "shell $WHO" > /run1',
        'echo second line >> /run1',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh -e',
        'echo "script $0 $WHO" > /run2',
        'EOF',
        'RUN sh <<EOF > /run3',
        'echo from stdin',
        'EOF',
        'RUN cat <<A <<B > /run4',
        'a-body',
        'A',
        'b-body',
        'B',
      ].join('\n'),
    });
    const { log } = build(['-t', 'heredoc:1', dir]);
    assert.match(log, /^#\d+ \[stage-0 \d+\/\d+\] RUN <<EOF \(echo "shell \$WHO" > \/run1\.\.\.\)$/m);
    assert.equal(
      sh('heredoc:1', 'cat /hello.txt /docs/one /docs/two /tabs.txt /run1 /run2 /run3 /run4; stat -c "%a %n" /hello.txt /docs/one'),
      'hello world\nfirst world\nsecond $WHO\nindented\ntwice\nshell world\nsecond line\nscript /dev/pipes/EOF world\nfrom stdin\nb-body\n644 /hello.txt\n755 /docs/one\n',
    );
    const hist = tsrunOk(tr.root, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'heredoc:1']);
    assert.match(hist, /^COPY --chmod=755 <<one <<two \/docs\/ # buildkit$/m);
  });

  test('an unterminated heredoc is refused at its line', () => {
    const dir = context('heredoc-bad', { Dockerfile: 'FROM busybox\nRUN true\nCOPY <<EOF /x\nnever ended\n' });
    const before = snapshotTree(tr.root);
    const r = tsrun(tr.root, ['build', dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^tsrun: Dockerfile:3: unterminated heredoc/m);
    assert.deepEqual(snapshotTree(tr.root), before);
  });
});

describe('COPY flags', () => {
  test('--from an image (not a stage), --chown, --chmod, --link, --exclude (repeatable), --parents', () => {
    const dir = context('flags', {
      'app/keep.txt': 'keep\n',
      'app/skip.log': 'skip\n',
      'app/sub/also.tmp': 'tmp\n',
      'app/sub/deep.txt': 'deep\n',
      'src/a/package.json': 'a\n',
      'src/b/package.json': 'b\n',
      'src/b/other.txt': 'other\n',
      Dockerfile: [
        'FROM busybox',
        'COPY --from=busybox /etc/group /from-image/group',
        'COPY --chown=app:app --chmod=640 app/keep.txt /owned/',
        'COPY --exclude=*.log --exclude=**/*.tmp app /filtered/',
        'COPY --parents src/*/package.json /parents/',
        'COPY --parents ./src/./b/other.txt /pivot/',
        'COPY --link app/keep.txt /linked/deep/keep.txt',
      ].join('\n'),
    });
    build(['-t', 'flags:1', dir]);
    assert.equal(
      sh('flags:1', 'head -1 /from-image/group; stat -c "%a %u:%g" /owned/keep.txt; cd /filtered && find . | sort; find /parents /pivot -type f | sort; stat -c "%a %u:%g" /linked/deep'),
      'root:x:0:\n640 1000:1000\n.\n./keep.txt\n./sub\n./sub/deep.txt\n/parents/src/a/package.json\n/parents/src/b/package.json\n/pivot/b/other.txt\n755 0:0\n',
    );
  });

  test('xattrs are kept in the layer and are part of the checksum (a changed xattr misses the cache)', () => {
    const dir = context('xattr', { 'x.txt': 'x\n', Dockerfile: 'FROM busybox\nCOPY x.txt /x.txt\n' });
    const set = (v: string) => assert.equal(spawnSync('setfattr', ['-n', 'user.tsrun', '-v', v, path.join(dir, 'x.txt')]).status, 0, 'setfattr (attr) is a test peer');
    set('one');
    const first = build(['-t', 'xattr:1', dir]);
    const layers = JSON.parse(tsrunOk(tr.root, ['image', 'inspect', 'xattr:1']))[0].RootFS.Layers as string[];
    const saved = path.join(tr.scratch, 'xattr.tar');
    tsrunOk(tr.root, ['save', '--format', 'oci-archive', '-o', saved, 'xattr:1']);
    const out = path.join(tr.scratch, 'xattr-out');
    fs.mkdirSync(out);
    spawnSync('tar', ['-C', out, '-xf', saved]);
    const layer = path.join(out, 'blobs', 'sha256', layers[layers.length - 1]!.slice(7));
    const list = spawnSync('tar', ['--xattrs', '--xattrs-include=user.*', '-tvvf', layer]).stdout.toString();
    assert.match(list, /x\.txt\n\s*x: 3 user\.tsrun/);
    assert.match(build(['-t', 'xattr:1', dir]).log, /COPY x\.txt \/x\.txt\n#\d+ CACHED/);
    set('two');
    const changed = build(['-t', 'xattr:1', dir]);
    assert.match(changed.log, /COPY x\.txt \/x\.txt\n#\d+ DONE/);
    assert.notEqual(changed.id, first.id);
  });

  describe('bad input: one line with file:line, non-zero exit, the store as it was', () => {
    const sum = '0'.repeat(64);
    const cases: [string, () => string, RegExp][] = [
      ['ADD checksum mismatch', () => `FROM busybox\nADD --checksum=sha256:${sum} ${srv.base}/files/tool.txt /x\n`, /^tsrun: Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/files\/tool\.txt: digest mismatch sha256:[a-f0-9]{64}: sha256:0{64}/],
      ['ADD URL 404', () => `FROM busybox\nENV A=1\nADD ${srv.base}/missing.txt /x\n`, /^tsrun: Dockerfile:3: ADD http:\/\/127\.0\.0\.1:\d+\/missing\.txt: invalid response status 404/],
      ['bad --chmod', () => 'FROM busybox\nCOPY --chmod=u+x Dockerfile /x\n', /^tsrun: Dockerfile:2: invalid chmod parameter: 'u\+x'/],
      ['bad --chmod (out of range)', () => 'FROM busybox\nCOPY --chmod=17777 Dockerfile /x\n', /^tsrun: Dockerfile:2: invalid chmod parameter: '17777'/],
    ];
    for (const [name, df, msg] of cases) {
      test(name, () => {
        const dir = context('bad-' + name.replace(/\W+/g, '-'), { Dockerfile: df() });
        const before = snapshotTree(tr.root);
        const r = tsrun(tr.root, ['build', dir]);
        assert.equal(r.code, 1, r.stderr);
        const errLine = r.stderr.split('\n').filter((l) => l.startsWith('tsrun:'));
        assert.equal(errLine.length, 1, r.stderr);
        assert.match(errLine[0]!, msg);
        assert.deepEqual(snapshotTree(tr.root), before);
        assert.deepEqual(mountsUnder(tr.root), []);
      });
    }
  });
});
