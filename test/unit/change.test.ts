import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChange, applyChanges, splitWords } from '../../src/images/change.js';
import { TsrunError } from '../../src/util/errors.js';
import type { ImageRunConfig } from '../../src/oci/types.js';

const apply = (...lines: string[]) => applyChanges({}, lines);

test('CMD and ENTRYPOINT: JSON form and shell form', () => {
  assert.deepEqual(apply('CMD ["echo", "hi"]').Cmd, ['echo', 'hi']);
  assert.deepEqual(apply('CMD echo "hi there"').Cmd, ['/bin/sh', '-c', 'echo "hi there"']);
  assert.deepEqual(apply('entrypoint ["/bin/sh","-c"]').Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(apply('ENTRYPOINT [not json').Entrypoint, ['/bin/sh', '-c', '[not json']);
});

test('ENV: k=v pairs with quotes, legacy form, replacing earlier values', () => {
  assert.deepEqual(apply('ENV A=1 B="v 2" C=x\\ y').Env, ['A=1', 'B=v 2', 'C=x y']);
  assert.deepEqual(apply('ENV PATH /usr/bin:/bin').Env, ['PATH=/usr/bin:/bin']);
  assert.deepEqual(apply('ENV GREETING hello world').Env, ['GREETING=hello world']);
  assert.deepEqual(apply('ENV A=1', 'ENV A=2 B=3').Env, ['A=2', 'B=3']);
});

test('LABEL, EXPOSE, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD', () => {
  const c = apply(
    'LABEL a=b "c d"="e f"',
    'EXPOSE 80 53/udp 8000-8001',
    'USER app:app',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /cache',
    'WORKDIR /srv',
    'WORKDIR app',
    'STOPSIGNAL SIGINT',
    'ONBUILD RUN echo hi',
  );
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e f' });
  assert.deepEqual(Object.keys(c.ExposedPorts!).sort(), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
  assert.equal(c.User, 'app:app');
  assert.deepEqual(Object.keys(c.Volumes!).sort(), ['/cache', '/data', '/logs']);
  assert.equal(c.WorkingDir, '/srv/app');
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.OnBuild, ['RUN echo hi']);
});

test('HEALTHCHECK forms', () => {
  assert.deepEqual(apply('HEALTHCHECK NONE').Healthcheck, { Test: ['NONE'] });
  assert.deepEqual(apply('HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/').Healthcheck, {
    Interval: 5e9,
    Retries: 3,
    Test: ['CMD-SHELL', 'curl -f http://x/'],
  });
  assert.deepEqual(apply('HEALTHCHECK --timeout=1m30s CMD ["true"]').Healthcheck, { Timeout: 90e9, Test: ['CMD', 'true'] });
  assert.deepEqual(apply('HEALTHCHECK --start-period=250µs CMD ["true"]').Healthcheck, { StartPeriod: 250e3, Test: ['CMD', 'true'] });
});

test('bad lines are USAGE errors', () => {
  for (const bad of ['RUN echo hi', 'FROM x', 'CMD', 'EXPOSE 99999', 'EXPOSE abc', 'ENV =x', 'ENV A="unterminated', 'ONBUILD FROM x', 'HEALTHCHECK --bogus=1 CMD x', 'HEALTHCHECK --interval=5 CMD x', '']) {
    assert.throws(
      () => applyChange({} as ImageRunConfig, bad),
      (e: unknown) => e instanceof TsrunError && e.code === 'USAGE',
      bad,
    );
  }
});

test('splitWords keeps quoted spaces and escapes', () => {
  assert.deepEqual(splitWords(`a "b c" 'd e' f\\ g`), ['a', 'b c', 'd e', 'f g']);
});
