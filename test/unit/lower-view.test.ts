/**
 * LowerView (src/diff/lower-view.ts): what the image's layers show at a path,
 * as overlay merges them. A layer's symlink or file where a path has a parent
 * hides everything below it (and is never followed to the host); a layer
 * without the parent lets the layers below show through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LowerView } from '../../src/diff/lower-view.js';
import { native } from '../../src/native.js';

function layers(t: { after(fn: () => void): void }): { top: string; mid: string; bottom: string; host: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-lowerview-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const d = { top: path.join(base, 'top'), mid: path.join(base, 'mid'), bottom: path.join(base, 'bottom'), host: path.join(base, 'host') };
  for (const p of Object.values(d)) fs.mkdirSync(p);
  return d;
}

test('a symlinked parent in a layer is never followed (an image cannot make tsrun stat host paths)', (t) => {
  const d = layers(t);
  fs.mkdirSync(path.join(d.host, 'etc'));
  fs.mkdirSync(path.join(d.top, 'a')); // the top layer's directory a …
  fs.symlinkSync(d.host, path.join(d.bottom, 'a')); // … over a symlink a -> a host dir in a lower one
  fs.symlinkSync(d.host, path.join(d.top, 'l'));
  const v = new LowerView([d.top, d.mid, d.bottom]);
  assert.equal(v.stat('a/etc'), undefined, 'a/etc exists only through the host');
  assert.equal(v.stat('l/etc'), undefined);
  assert.ok(v.stat('a')!.isDirectory());
  assert.ok(v.stat('l')!.isSymbolicLink());
});

test('a file or whiteout in a layer hides the layers below; an absent parent lets them through', (t) => {
  const d = layers(t);
  fs.mkdirSync(path.join(d.bottom, 'x/y'), { recursive: true });
  fs.writeFileSync(path.join(d.bottom, 'x/y/f'), '1');
  fs.mkdirSync(path.join(d.bottom, 'w/y'), { recursive: true });
  fs.writeFileSync(path.join(d.bottom, 'w/y/f'), '1');
  fs.writeFileSync(path.join(d.mid, 'w'), 'a file over the dir');
  fs.mkdirSync(path.join(d.bottom, 'z'), { recursive: true });
  fs.writeFileSync(path.join(d.bottom, 'z/f'), '1');
  native().mknod(path.join(d.mid, 'z'), 0o20000 | 0o600, 0, 0); // whiteout of z
  const v = new LowerView([d.top, d.mid, d.bottom]);
  assert.ok(v.stat('x/y/f')!.isFile(), 'top and mid lack x: bottom shows');
  assert.equal(v.stat('w/y/f'), undefined, "mid's file w hides bottom's dir w");
  assert.ok(v.stat('w')!.isFile());
  assert.equal(v.stat('z'), undefined, 'whited out');
  assert.equal(v.stat('z/f'), undefined, 'below a whiteout');
});
