/**
 * `tsrun build` on a debootstrapped Debian (test/helpers/debian.ts): apt-get install in a
 * RUN on the default bridge network (the Debian mirror is reachable from this machine),
 * a heredoc fed to the installed python3, and USER/WORKDIR/COPY --chown ownership with a
 * user made by useradd in an earlier step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, tsrunOk, type TempRoot } from '../helpers/cli.js';
import { importDebian } from '../helpers/debian.js';

let tr: TempRoot;

function context(name: string, files: Record<string, string>): string {
  const dir = path.join(tr.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), data);
  return dir;
}

/** Build with the whole plain progress kept: when apt fails, its output says why. */
function build(args: string[]): string {
  const iid = path.join(tr.scratch, 'iid');
  const r = tsrun(tr.root, ['build', '--progress', 'plain', '--iidfile', iid, ...args], { timeoutMs: 600_000 });
  assert.equal(r.code, 0, `build failed: ${r.stderr}`);
  return fs.readFileSync(iid, 'utf8');
}

const run = (image: string, script: string) => tsrunOk(tr.root, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script]);

before(() => {
  tr = tempRoot('tsrun-build-debian-');
  importDebian(tr.root);
});
after(() => tr.cleanup());

test('FROM debian: apt-get update && apt-get install on the default network, then RUN python3 <<EOF', () => {
  const dir = context('apt', {
    Dockerfile: [
      'FROM debian:bookworm',
      // Error-Mode=any: a failed index download fails the step here, not as "Unable to locate package" later
      'RUN apt-get update -o APT::Update::Error-Mode=any && apt-get install -y --no-install-recommends python3-minimal && rm -rf /var/lib/apt/lists/*',
      'RUN python3 <<EOF',
      'import sys',
      "open('/py.txt', 'w').write('python %d\\n' % sys.version_info[0])",
      'EOF',
    ].join('\n'),
  });
  build(['-t', 'deb-apt:1', dir]);
  assert.equal(run('deb-apt:1', 'cat /py.txt; dpkg-query -W -f "\\${Status}\\n" python3-minimal'), 'python 3\ninstall ok installed\n');
});

test('USER and WORKDIR: directories made as the current user, COPY --chown by name, RUN as that user', () => {
  const dir = context('owners', {
    'app.conf': 'conf\n',
    Dockerfile: [
      'FROM debian:bookworm',
      'RUN useradd -m -u 1234 -U app',
      'USER app',
      'WORKDIR /home/app/work/deeper',
      'COPY --chown=app:app app.conf .',
      'RUN touch mine && id -un > whoami',
      'USER root',
      'WORKDIR /srv/rootdir',
    ].join('\n'),
  });
  build(['-t', 'deb-own:1', dir]);
  assert.equal(
    run('deb-own:1', 'stat -c "%U:%G %n" /home/app/work /home/app/work/deeper /home/app/work/deeper/app.conf /home/app/work/deeper/mine /srv/rootdir; cat /home/app/work/deeper/whoami; pwd'),
    'app:app /home/app/work\napp:app /home/app/work/deeper\napp:app /home/app/work/deeper/app.conf\napp:app /home/app/work/deeper/mine\nroot:root /srv/rootdir\napp\n/srv/rootdir\n',
  );
});
