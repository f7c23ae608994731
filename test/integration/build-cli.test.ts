/**
 * `tsrun build`'s command line end to end: the Dockerfile or the whole context on stdin,
 * --pull and COPY --from images against a local registry, --platform's bad values, --timestamp
 * (reproducible image IDs), --format docker, --progress tty on a terminal, ONBUILD
 * triggers of a FROM image; and the refused forms.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, snapshotTree, TSRUN, type TempRoot } from '../helpers/cli.js';
import { startRegistry, buildLayout, skopeoPush, type TestRegistry } from '../helpers/registry.js';

let tr: TempRoot;
let reg: TestRegistry;
const env = () => ({ DOCKER_CONFIG: path.join(tr.scratch, 'docker'), TSRUN_REGISTRIES_CONF: path.join(tr.scratch, 'none.json') });

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), data);
  }
  return dir;
}

function build(args: string[], input?: Buffer | string, root = tr.root): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(root, ['build', '--progress', 'plain', '--iidfile', iid, ...args], { input, env: env() });
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

const runOut = (image: string, ...cmd: string[]) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', image, ...cmd]);
const inspect = (image: string) => JSON.parse(tsrunOk(tr.root, ['image', 'inspect', image]))[0];

/** Push the busybox layout with label `label` as REPO:TAG to the test registry. */
function pushBase(repoTag: string, label: string): void {
  const layout = fs.mkdtempSync(path.join(tr.scratch, 'layout-'));
  buildLayout(layout, { label, tag: 'x' });
  skopeoPush(layout, 'x', `${reg.host}/${repoTag}`, { format: 'oci' });
}

before(async () => {
  tr = tempRoot('tsrun-build-cli-');
  fs.writeFileSync(path.join(tr.scratch, 'none.json'), '{}');
  importBusybox(tr.root);
  reg = await startRegistry(path.join(tr.scratch, 'registry'));
});
after(() => {
  reg?.stop();
  tr.cleanup();
});

describe('stdin', () => {
  test('-f - reads the Dockerfile from stdin, the context from the directory', () => {
    const dir = context('stdin-f', { 'msg.txt': 'from the context\n' });
    build(['-t', 'stdin-f:1', '-f', '-', dir], 'FROM busybox\nCOPY msg.txt /msg.txt\n');
    assert.equal(runOut('stdin-f:1', 'cat', '/msg.txt'), 'from the context\n');
  });

  test('- takes the context as a tar (gzip too) on stdin, with -f naming a file inside it', () => {
    const dir = context('stdin-tar', { 'sub/build.Dockerfile': 'FROM busybox\nCOPY data/ /data/\n', 'data/a.txt': 'a\n' });
    const tar = spawnSync('tar', ['-C', dir, '-czf', '-', '.']).stdout;
    build(['-t', 'stdin-tar:1', '-f', 'sub/build.Dockerfile', '-'], tar);
    assert.equal(runOut('stdin-tar:1', 'cat', '/data/a.txt'), 'a\n');
  });

  test('- with a plain Dockerfile on stdin builds with an empty context', () => {
    build(['-t', 'stdin-df:1', '-'], 'FROM busybox\nRUN echo made > /made\n');
    assert.equal(runOut('stdin-df:1', 'cat', '/made'), 'made\n');
    const r = tsrun(tr.root, ['build', '-'], { input: 'FROM busybox\nCOPY x /x\n', env: env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tsrun: Dockerfile:2: failed to compute cache key: "\/x": not found/m);
  });
});

describe('images from a registry', () => {
  test('FROM uses the store unless --pull; --pull asks the registry and gets the newer image', () => {
    pushBase('base:1', 'v1');
    const dir = context('pull', { Dockerfile: `FROM ${reg.host}/base:1\nRUN echo hi > /hi\n` });
    build(['-t', 'pull:1', dir]);
    assert.equal(inspect('pull:1').Config.Labels.test, 'v1');
    pushBase('base:1', 'v2');
    build(['-t', 'pull:1', dir]);
    assert.equal(inspect('pull:1').Config.Labels.test, 'v1', 'without --pull the stored image is used');
    const pulled = build(['-t', 'pull:1', '--pull', dir]);
    assert.equal(inspect('pull:1').Config.Labels.test, 'v2');
    assert.match(pulled.log, /RUN \/bin\/sh -c echo hi > \/hi\n#\d+ DONE/, 'a new base reruns the steps on it');
  });

  test('COPY --from an image that is not in the store pulls it', () => {
    pushBase('copysrc:1', 'src');
    const fresh = tempRoot('tsrun-build-cli-fresh-');
    try {
      importBusybox(fresh.root);
      const dir = context('copy-from-pull', { Dockerfile: `FROM busybox\nCOPY --from=${reg.host}/copysrc:1 /etc/group /g\n` });
      build(['-t', 'cfp:1', dir], undefined, fresh.root);
      assert.match(tsrunOk(fresh.root, ['images', '--format', '{{.Repository}}:{{.Tag}}']), new RegExp(`${reg.host}/copysrc:1`));
      assert.equal(tsrunOk(fresh.root, ['run', '--rm', '--network', 'none', 'cfp:1', 'head', '-1', '/g']), 'root:x:0:\n');
    } finally {
      fresh.cleanup();
    }
  });
});

describe('output', () => {
  test('--timestamp: the same inputs give the same image ID; created times and file mtimes are the timestamp', () => {
    const dir = context('ts', {
      Dockerfile: 'FROM busybox\nCOPY a.txt /a.txt\nWORKDIR /w\nRUN echo run > /w/r.txt && mkdir /w/d\nCMD ["cat", "/a.txt"]\n',
      'a.txt': 'a\n',
    });
    const one = build(['--timestamp', '1700000000', '--no-cache', dir]);
    fs.utimesSync(path.join(dir, 'a.txt'), new Date(), new Date());
    const two = build(['--timestamp', '1700000000', '--no-cache', dir]);
    assert.equal(two.id, one.id);
    const img = inspect(one.id);
    assert.equal(img.Created, '2023-11-14T22:13:20Z');
    const hist = tsrunOk(tr.root, ['history', '--no-trunc', '--format', '{{.CreatedAt}}|{{.CreatedBy}}', one.id]).split('\n').filter(Boolean);
    for (const h of hist.slice(0, 4)) assert.match(h, /^2023-11-14 22:13:20 /, h);
    assert.equal(runOut(one.id, 'stat', '-c', '%Y', '/a.txt', '/w', '/w/r.txt', '/w/d'), '1700000000\n'.repeat(4));
    const other = build(['--timestamp', '1700000001', dir]);
    assert.notEqual(other.id, one.id);
  });

  test('--format docker writes a docker schema2 manifest and config; oci is the default', () => {
    const dir = context('fmt', { Dockerfile: 'FROM busybox\nRUN echo x > /x\n' });
    build(['-t', 'fmt:oci', dir]);
    build(['-t', 'fmt:docker', '--format', 'docker', dir]);
    assert.equal(inspect('fmt:oci').ManifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(inspect('fmt:docker').ManifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(runOut('fmt:docker', 'cat', '/x'), 'x\n');
  });

  test('--progress tty (auto on a terminal) folds each step to one line', () => {
    const dir = context('tty', { Dockerfile: 'FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8; do echo line-$i; done\n' });
    const cmd = [process.execPath, '--', TSRUN, '--root', tr.root, 'build', '--no-cache', dir].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `script (util-linux) is a test peer: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /\x1b\[\d+A\x1b\[0J/, 'the live lines are redrawn in place');
    assert.match(r.stdout, /#2 \[stage-0 2\/2\] RUN \/bin\/sh -c for i in [^\n]* DONE \d+\.\ds\r?\n/);
    // what stays on the screen: the folded line, not the output
    const screen = r.stdout.split(/\x1b\[\d+A\x1b\[0J/).pop()!;
    assert.doesNotMatch(screen, /line-8/);
    assert.match(screen, /writing image sha256:[a-f0-9]{64} done/);
  });

  test('ONBUILD triggers of the FROM image run in the build that uses it, once', () => {
    const base = context('onbuild-base', { Dockerfile: 'FROM busybox\nONBUILD COPY trigger.txt /trigger.txt\nONBUILD RUN echo triggered >> /log\n' });
    build(['-t', 'onbuild-base:1', base]);
    const child = context('onbuild-child', { Dockerfile: 'FROM onbuild-base:1\nRUN echo child >> /log\n', 'trigger.txt': 'from the child context\n' });
    build(['-t', 'onbuild-child:1', child]);
    assert.equal(runOut('onbuild-child:1', 'cat', '/trigger.txt', '/log'), 'from the child context\ntriggered\nchild\n');
    assert.equal(inspect('onbuild-child:1').Config.OnBuild, null);
    const grandchild = context('onbuild-grand', { Dockerfile: 'FROM onbuild-child:1\nRUN echo grand >> /log\n' });
    build(['-t', 'onbuild-grand:1', grandchild]);
    assert.equal(runOut('onbuild-grand:1', 'cat', '/log'), 'triggered\nchild\ngrand\n');
  });
});

describe('bad input: one line, non-zero exit, the store as it was', () => {
  const cases: [string, () => string[], string | undefined, RegExp, number][] = [
    ['--platform with an unknown architecture', () => ['--platform', 'linux/amd64,linux/nosuch', 'DIR'], undefined, /^tsrun: --platform linux\/nosuch: unknown architecture "nosuch"/, 1],
    ['--platform not linux', () => ['--platform', 'windows/amd64', 'DIR'], undefined, /^tsrun: --platform windows\/amd64: tsrun builds linux images only/, 1],
    ['bad --format', () => ['--format', 'v2s2', 'DIR'], undefined, /^tsrun: invalid --format "v2s2"/, 1],
    ['bad --timestamp', () => ['--timestamp', 'yesterday', 'DIR'], undefined, /^tsrun: invalid --timestamp "yesterday"/, 1],
    ['stdin for both', () => ['-f', '-', '-'], 'FROM busybox\n', /^tsrun: invalid argument: can't use stdin for both build context and dockerfile/, 1],
    ['COPY --from an unknown image', () => ['DIR'], undefined, /^tsrun: Dockerfile:3: .*nope/, 1],
  ];
  for (const [name, args, input, msg, code] of cases) {
    test(name, () => {
      const dir = context('bad-' + name.replace(/\W+/g, '-'), { Dockerfile: `FROM busybox\nENV A=1\nCOPY --from=${reg.host}/nope:1 /x /x\n` });
      const before = snapshotTree(tr.root);
      const r = tsrun(tr.root, ['build', ...args().map((a) => (a === 'DIR' ? dir : a))], { input, env: env() });
      assert.equal(r.code, code, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('tsrun:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, msg);
      assert.deepEqual(snapshotTree(tr.root), before);
    });
  }
});
