/** An image made by `tsrun build` (a RUN layer, a COPY layer, metadata) saved and run by podman. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrunOk, importBusybox } from '../helpers/cli.js';
import { podman, have } from '../helpers/peers.js';

const t = tempRoot('tsrun-interop-build-');
// podman refuses a runroot longer than 50 characters: a short base of its own
const pmBase = fs.mkdtempSync('/tmp/pmb-');
const pm = podman(pmBase);
after(() => {
  pm.cleanup();
  fs.rmSync(pmBase, { recursive: true, force: true });
  t.cleanup();
});

test('tsrun build → tsrun save → podman load → podman run: files, owners, ENV, WORKDIR, CMD as built', () => {
  assert.ok(have('podman'), 'podman is a test peer (scripts/setup.sh installs it)');
  importBusybox(t.root);
  const ctx = path.join(t.scratch, 'ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(path.join(ctx, 'msg.txt'), 'from the context\n');
  fs.writeFileSync(
    path.join(ctx, 'Dockerfile'),
    ['FROM busybox', 'ENV WHO=podman', 'COPY --chown=1000:1000 msg.txt /srv/msg.txt', 'WORKDIR /srv', 'RUN echo "ran as $(id -u)" > made.txt', 'CMD ["sh", "-c", "cat msg.txt made.txt; stat -c %u:%g msg.txt; echo $WHO; pwd"]'].join('\n'),
  );
  const id = tsrunOk(t.root, ['build', '-q', '-t', 'built:1', ctx]).trim();
  const expected = 'from the context\nran as 0\n1000:1000\npodman\n/srv\n';
  assert.equal(tsrunOk(t.root, ['run', '--rm', 'built:1']), expected);
  const file = path.join(t.scratch, 'built.tar');
  tsrunOk(t.root, ['save', '-o', file, 'built:1']);
  assert.match(pm.run(['load', '-i', file]).stdout, /built:1/);
  assert.equal(pm.run(['image', 'inspect', '--format', '{{.Id}}', 'built:1']).stdout.trim().replace(/^sha256:/, ''), id.slice(7));
  assert.equal(pm.run(['run', '--rm', '--network', 'none', 'built:1']).stdout, expected);
});
