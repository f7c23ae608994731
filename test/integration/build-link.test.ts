/**
 * `COPY --link` layer reuse, as BuildKit does it: a --link layer does not depend on the layers
 * below it, so after the FROM image changes a rebuild reuses it (CACHED, the same diff_id)
 * while a plain COPY and the steps after it run again on the new base. A --chown by name is
 * resolved against the stage's rootfs and the layer keyed by the ids it gave: reused when a new
 * base maps the name to the same ids, written again when it maps it elsewhere.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildOk, tempRoot, tsrun, tsrunOk, importBusybox, type TempRoot } from '../helpers/cli.js';

let tr: TempRoot;

const build = (args: string[]) => buildOk(tr, args);

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

  test('--chown by name: resolved against the new base each time; the layer reused only when the name gives the same ids', () => {
    const baseDir = path.join(tr.scratch, 'named-base');
    fs.mkdirSync(baseDir);
    const app = path.join(tr.scratch, 'named-app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'f.txt'), 'f\n');
    fs.writeFileSync(path.join(app, 'g.txt'), 'g\n');
    fs.writeFileSync(path.join(app, 'Dockerfile'), ['FROM named:cur', 'COPY --link --chown=svc:svc f.txt /f', 'COPY --link --chown=svc g.txt /g', 'COPY --link --chown=7 f.txt /h', ''].join('\n'));
    const baseBuild = (word: string, uid?: number, gid?: number, uid7gid?: number) => {
      const users = uid === undefined ? '' : `echo svc:x:${uid}:${gid}::/:/bin/sh >> /etc/passwd && echo svc:x:${gid}: >> /etc/group && `;
      const seven = uid7gid === undefined ? '' : `echo seven:x:7:${uid7gid}::/:/bin/sh >> /etc/passwd && `;
      fs.writeFileSync(path.join(baseDir, 'Dockerfile'), `FROM busybox\nRUN ${users}${seven}echo ${word} > /base\n`);
      build(['-t', 'named:cur', baseDir]);
    };
    const owners = (id: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', id, 'stat', '-c', '%n %u:%g', '/f', '/g', '/h']);
    const steps = (log: string) => Object.values(outcomes(log));

    baseBuild('one', 1234, 2345, 70);
    const first = build([app]);
    assert.equal(owners(first.id), '/f 1234:2345\n/g 1234:2345\n/h 7:70\n');
    // another base, same users: every --link layer reused
    baseBuild('two', 1234, 2345, 70);
    const same = build([app]);
    assert.deepEqual(steps(same.log), ['CACHED', 'CACHED', 'CACHED'], same.log);
    assert.equal(owners(same.id), '/f 1234:2345\n/g 1234:2345\n/h 7:70\n');
    // the name (and uid 7's group) now mean other ids: written again, with them
    baseBuild('three', 4321, 5432, 71);
    const moved = build([app]);
    assert.deepEqual(steps(moved.log), ['DONE', 'DONE', 'DONE'], moved.log);
    assert.equal(owners(moved.id), '/f 4321:5432\n/g 4321:5432\n/h 7:71\n');
    // back to the first ids on yet another base: the first layers again
    baseBuild('four', 1234, 2345, 70);
    const back = build([app]);
    assert.deepEqual(steps(back.log), ['CACHED', 'CACHED', 'CACHED'], back.log);
    assert.deepEqual(layers(back.id).slice(-3), layers(first.id).slice(-3));
    // a base without the user: the line's error, exit 1, no image
    baseBuild('five');
    const r = tsrun(tr.root, ['build', '--network', 'none', '-t', 'named-app:bad', app]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^tsrun: Dockerfile:2: unable to find user svc: no matching entries in passwd file/m);
    assert.equal(tsrun(tr.root, ['image', 'inspect', 'named-app:bad']).code, 1);
  });
});
