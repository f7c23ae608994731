/**
 * `COPY --link` layer reuse, as BuildKit does it: a --link layer does not depend on the layers
 * below it, so after the FROM image changes a rebuild reuses it (CACHED, the same diff_id)
 * while a plain COPY and the steps after it run again on the new base.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, importBusybox, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;

function build(args: string[]): { id: string; log: string } {
  const iid = path.join(tr.scratch, 'iid');
  fs.rmSync(iid, { force: true });
  const r = tsrun(tr.root, ['build', '--network', 'none', '--progress', 'plain', '--iidfile', iid, ...args]);
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return { id: fs.readFileSync(iid, 'utf8'), log: r.stderr };
}

/** Step text → CACHED or DONE (FROM left out). */
function outcomes(log: string): Record<string, string> {
  const names = new Map<string, string>();
  const out: Record<string, string> = {};
  for (const line of log.split('\n')) {
    let m = /^#(\d+) \[[^\]]+\] (.*)$/.exec(line);
    if (m && !m[2]!.startsWith('FROM ')) names.set(m[1]!, m[2]!);
    m = /^#(\d+) (CACHED|DONE)/.exec(line);
    if (m && names.has(m[1]!)) out[names.get(m[1]!)!] = m[2]!;
  }
  return out;
}

const layers = (id: string): string[] => JSON.parse(tsrunOk(tr.root, ['image', 'inspect', id]))[0].RootFS.Layers;

before(() => {
  tr = tempRoot('tsrun-buildlink-');
  importBusybox(tr.root);
});
after(() => tr.cleanup());

describe('build: COPY --link', () => {
  test('after the base image changes, the --link layers are reused (same diff_id, CACHED); the rest reruns', () => {
    const baseDir = path.join(tr.scratch, 'base');
    fs.mkdirSync(baseDir);
    const app = path.join(tr.scratch, 'app');
    fs.mkdirSync(path.join(app, 'src'), { recursive: true });
    fs.writeFileSync(path.join(app, 'src', 'a.txt'), 'app a\n');
    fs.writeFileSync(path.join(app, 'f.txt'), 'f\n');
    fs.writeFileSync(path.join(app, 'plain.txt'), 'plain\n');
    fs.writeFileSync(
      path.join(app, 'Dockerfile'),
      ['FROM base:cur', 'COPY --link src/ /app/', 'COPY --link --chown=5:6 --chmod=0640 f.txt /opt/deep/f.txt', 'COPY plain.txt /plain.txt', 'RUN cat /base /app/a.txt /plain.txt > /out'].join('\n'),
    );
    const baseBuild = (word: string) => {
      fs.writeFileSync(path.join(baseDir, 'Dockerfile'), `FROM busybox\nRUN echo ${word} > /base\n`);
      return build(['-t', 'base:cur', baseDir]).id;
    };

    const base1 = baseBuild('one');
    const first = build(['-t', 'app:1', app]);
    const l1 = layers(first.id);
    const n = layers(base1).length;
    assert.equal(l1.length, n + 4);
    assert.equal(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'app:1', 'sh', '-c', 'cat /out; stat -c "%u:%g %a" /opt/deep/f.txt']), 'one\napp a\nplain\n5:6 640\n');

    const base2 = baseBuild('two');
    assert.notEqual(base2, base1);
    const second = build(['-t', 'app:2', app]);
    const got = outcomes(second.log);
    assert.deepEqual(
      Object.entries(got).map(([k, v]) => `${k.split(' ').slice(0, 2).join(' ')} ${v}`),
      ['COPY src/ CACHED', 'COPY --chown=5:6 CACHED', 'COPY plain.txt DONE', 'RUN /bin/sh DONE'],
      second.log,
    );
    const l2 = layers(second.id);
    assert.notDeepEqual(l2.slice(0, n), l1.slice(0, n), 'the base layers changed');
    assert.deepEqual(l2.slice(n, n + 2), l1.slice(n, n + 2), 'the --link layers are the same');
    assert.equal(tsrunOk(tr.root, ['run', '--rm', '--network', 'none', 'app:2', 'sh', '-c', 'cat /out; stat -c "%u:%g %a" /opt/deep/f.txt']), 'two\napp a\nplain\n5:6 640\n');

    // a changed source still misses: the reuse is keyed by the files, not the instruction alone
    fs.writeFileSync(path.join(app, 'src', 'a.txt'), 'app b\n');
    const third = build(['-t', 'app:3', app]);
    assert.equal(Object.values(outcomes(third.log))[0], 'DONE');
    assert.notEqual(layers(third.id)[n], l1[n]);
  });
});
