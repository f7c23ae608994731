/**
 * Images at the edges of what runs, through the real CLI: a FROM-scratch
 * image (no /etc at all) runs as uid 0 gid 0 like docker; a fifo as
 * /etc/passwd never blocks run or exec; hostile owners and times in a layer
 * and an /etc that is not a directory give one line that says what in the
 * image is wrong.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempRoot, tsrun, tsrunOk, importBusybox, busyboxTar, snapshotTree, type TempRoot } from '../helpers/cli.js';
import { buildTar, type FixtureEntry } from '../unit/tarfixture.js';
import { openCtx } from '../../src/context.js';

let tr: TempRoot;
let busybox: Buffer;

before(() => {
  tr = tempRoot('tsrun-edges-');
  importBusybox(tr.root);
  const r = spawnSync('tar', ['-xOf', busyboxTar(), './bin/busybox'], { maxBuffer: 64 << 20 });
  busybox = r.stdout.length ? r.stdout : spawnSync('tar', ['-xOf', busyboxTar(), 'bin/busybox'], { maxBuffer: 64 << 20 }).stdout;
  assert.ok(busybox.length > 100_000, 'the busybox binary from the fixture');
});
after(() => tr?.cleanup());

async function importTar(name: string, entries: FixtureEntry[], cmd = '["/bin/busybox","true"]') {
  const file = path.join(tr.scratch, `${name}.tar`);
  fs.writeFileSync(file, await buildTar(entries));
  return tsrun(tr.root, ['import', '-c', `CMD ${cmd}`, file, `${name}:1`]);
}

const bin = (): FixtureEntry[] => [
  { name: 'bin/', type: 'dir' },
  { name: 'bin/busybox', content: busybox, mode: 0o755 },
];

test('a FROM-scratch image (one static binary, no /etc) runs as uid 0 gid 0', async () => {
  const r = await importTar('scratch', bin());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(tsrunOk(tr.root, ['run', '--rm', 'scratch:1', '/bin/busybox', 'id']).trim(), 'uid=0 gid=0');
  // a user asked for by name must still exist, as in docker
  const named = tsrun(tr.root, ['run', '--rm', '-u', 'root', 'scratch:1', '/bin/busybox', 'id']);
  assert.notEqual(named.code, 0);
  assert.match(named.stderr, /^tsrun: unable to find user root[^\n]*\n$/);
  assert.equal(tsrunOk(tr.root, ['run', '--rm', '-u', '1000:1000', 'scratch:1', '/bin/busybox', 'id']).trim(), 'uid=1000 gid=1000');
});

/** uid and gid from the kernel: busybox id would itself block opening the fifo, inside the container. */
const IDS = ['awk', '/^[UG]id:/ { printf "%s ", $2 }', '/proc/self/status'];

test('a fifo as /etc/passwd: run and exec without -u run as uid 0 and never block', () => {
  tsrunOk(tr.root, ['run', '--network', 'none', '--name', 'mkfifo', 'busybox', 'sh', '-c', 'rm /etc/passwd /etc/group && mkfifo /etc/passwd /etc/group']);
  tsrunOk(tr.root, ['commit', 'mkfifo', 'fifo:1']);
  tsrunOk(tr.root, ['rm', 'mkfifo']);
  assert.equal(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'fifo:1', ...IDS], { timeoutMs: 60_000 }), '0 0 ');
  tsrunOk(tr.root, ['run', '-d', '--network', 'none', '--name', 'fifo', 'fifo:1', 'sleep', '1000']);
  try {
    assert.equal(tsrunOk(tr.root, ['exec', 'fifo', ...IDS], { timeoutMs: 60_000 }), '0 0 ');
    // a fifo made inside the running container, too
    tsrunOk(tr.root, ['exec', '-u', '0', 'fifo', 'sh', '-c', 'rm -f /etc/passwd; mkfifo /etc/passwd'], { timeoutMs: 60_000 });
    assert.equal(tsrunOk(tr.root, ['exec', 'fifo', ...IDS], { timeoutMs: 60_000 }), '0 0 ');
  } finally {
    tsrunOk(tr.root, ['rm', '-f', 'fifo']);
  }
});

test('a uid or gid no Linux file can have: one line naming the entry, store unchanged', async () => {
  for (const [field, value] of [
    ['uid', '99999999999'],
    ['gid', '4294967295'],
  ] as const) {
    const before = snapshotTree(tr.root);
    const r = await importTar(`owner-${field}`, [...bin(), { name: 'bin/x', content: 'x', pax: { [field]: value } }]);
    assert.equal(r.code, 1, r.stderr);
    // the tar reader refuses what no header may hold; apply refuses (uid_t)-1, which chown would take as "unchanged"
    assert.match(r.stderr, new RegExp(`^tsrun: (layer entry "bin/x" has ${field} ${value}, outside|malformed tar: invalid uid or gid)[^\\n]*\\n$`));
    assert.deepEqual(snapshotTree(tr.root), before);
  }
});

test('file times before the epoch or past 2262 become the epoch, as docker', async () => {
  const r = await importTar('times', [
    ...bin(),
    { name: 'huge', content: 'h', pax: { mtime: '99999999999999999999' } },
    { name: 'negative', content: 'n', pax: { mtime: '-5' } },
    { name: 'fine', content: 'f', mtime: 1_600_000_000 },
  ]);
  assert.equal(r.code, 0, r.stderr);
  const ctx = openCtx(tr.root);
  const img = ctx.images.get('times:1');
  const dir = ctx.layers.diffDir(img.chainIds.at(-1)!);
  assert.equal(fs.lstatSync(path.join(dir, 'huge')).mtimeMs, 0);
  assert.equal(fs.lstatSync(path.join(dir, 'negative')).mtimeMs, 0);
  assert.equal(fs.lstatSync(path.join(dir, 'fine')).mtimeMs, 1_600_000_000_000);
});

test('an image whose /etc is a file or a dangling symlink: run says what in the image is wrong', async () => {
  for (const [name, etc] of [
    ['etcfile', { name: 'etc', content: 'not a dir' }],
    ['etclink', { name: 'etc', type: 'symlink', linkname: '/nowhere/etc' }],
  ] as const) {
    const r = await importTar(name, [...bin(), etc as FixtureEntry]);
    assert.equal(r.code, 0, r.stderr);
    const run = tsrun(tr.root, ['run', '--rm', `${name}:1`]);
    assert.equal(run.code, 125);
    assert.match(run.stderr, /^tsrun: cannot create mount point \/etc\/\w+: in the image, \/etc or a directory above it is (a file|a symlink to nothing)[^\n]*\n$/, run.stderr);
  }
  assert.equal(tsrunOk(tr.root, ['ps', '-a', '-q']), '', 'run --rm left nothing behind');
});
