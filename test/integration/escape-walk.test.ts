/**
 * Reading a running container's tree from the host (export, diff,
 * commit --pause=false) while the container swaps a directory and a file for
 * symlinks to a host directory, atomically and without pause (swapper.ts):
 * nothing of the host directory may reach the archive, the listing or the
 * layer. Each command may fail cleanly (one line) when the tree keeps
 * changing under it, but most runs must succeed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { tempRoot, tsrun, tsrunOk, importBusybox } from '../helpers/cli.js';
import { buildSwapper } from '../helpers/swapper.js';

const t = tempRoot('tsrun-walkrace-');
const tag = crypto.randomBytes(6).toString('hex');
const SECRET_NAME = `hostonly-${tag}`;
const SECRET_DATA = `HOST-SECRET-DATA-${tag}`;
const secretDir = path.join(t.scratch, 'secret');
const bin = path.join(t.scratch, 'bin');

/** Files below dir (recursively) whose bytes contain needle. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

before(() => {
  buildSwapper(bin);
  fs.mkdirSync(path.join(secretDir, SECRET_NAME), { recursive: true });
  fs.writeFileSync(path.join(secretDir, 'data'), SECRET_DATA);
  fs.writeFileSync(path.join(secretDir, SECRET_NAME, 'data'), SECRET_DATA);
  importBusybox(t.root);
  // /a (a directory) ⇄ /b (-> the host dir), /c (a file) ⇄ /d (-> a host file), /e/f/g ⇄ /h (-> the host dir)
  const setup = [
    'mkdir -p /a/x /e/f/g/y',
    'echo inside > /a/x/f',
    'echo inside > /c',
    'echo inside > /e/f/g/y/f',
    `ln -s ${secretDir} /b`,
    `ln -s ${secretDir}/data /d`,
    `ln -s ${secretDir} /h`,
    'exec /tbin/swap 300 /a /b /c /d /e/f/g /h',
  ].join(' && ');
  tsrunOk(t.root, ['run', '-d', '--name', 'racer', '-v', `${bin}:/tbin:ro`, 'busybox', 'sh', '-c', setup]);
});
after(() => {
  tsrun(t.root, ['rm', '-f', 'racer']);
  t.cleanup();
});

/** A clean failure: one "tsrun: …" line. */
function cleanFailure(r: { code: number; stderr: string }, what: string) {
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^tsrun: [^\n]+\n$/, `${what}: one line: ${r.stderr}`);
}

describe('host files never reach what is read from a racing container', () => {
  it('export', () => {
    let ok = 0;
    for (let i = 0; i < 12; i++) {
      const out = path.join(t.scratch, `export-${i}.tar`);
      const r = tsrun(t.root, ['export', '-o', out, 'racer']);
      if (r.code !== 0) {
        cleanFailure(r, 'export');
        continue;
      }
      ok++;
      const tar = fs.readFileSync(out);
      assert.ok(!tar.includes(SECRET_NAME), `export ${i} listed the host directory`);
      assert.ok(!tar.includes(SECRET_DATA), `export ${i} holds a host file's data`);
      assert.ok(tar.includes('usr/') || tar.includes('bin/'), 'the export has the image');
      fs.rmSync(out);
    }
    assert.ok(ok >= 6, `most exports succeed (${ok} of 12)`);
  });

  it('diff', () => {
    let ok = 0;
    for (let i = 0; i < 40; i++) {
      const r = tsrun(t.root, ['diff', 'racer']);
      if (r.code !== 0) {
        cleanFailure(r, 'diff');
        continue;
      }
      ok++;
      assert.doesNotMatch(r.stdout, new RegExp(SECRET_NAME), `diff ${i} listed the host directory`);
      assert.doesNotMatch(r.stdout, /\/(b|d|h)\/data/, `diff ${i} listed a host file`);
      assert.match(r.stdout, /^A \/a$/m);
    }
    assert.ok(ok >= 20, `most diffs succeed (${ok} of 40)`);
  });

  it('commit --pause=false', () => {
    let ok = 0;
    for (let i = 0; i < 10; i++) {
      const r = tsrun(t.root, ['commit', '--pause=false', 'racer', `racer-img:${i}`]);
      if (r.code !== 0) {
        cleanFailure(r, 'commit');
        continue;
      }
      ok++;
      assert.deepEqual(filesContaining(path.join(t.root, 'content'), SECRET_DATA), [], `commit ${i}: no host data in any blob`);
      assert.deepEqual(filesContaining(path.join(t.root, 'content'), SECRET_NAME), [], `commit ${i}: no host name in any blob`);
    }
    assert.ok(ok >= 5, `most commits succeed (${ok} of 10)`);
  });
});
