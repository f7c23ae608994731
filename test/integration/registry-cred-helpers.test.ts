/**
 * docker credential helpers (`credsStore`, `credHelpers` in docker's config.json) for login, pull,
 * push and logout, with fake helpers on PATH: shell scripts speaking the get/store/erase/list
 * protocol over a JSON file in the test's dir and logging each call. The password never lands in
 * config.json; a missing helper and a failing one are one-line errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempRoot, tsrun, type TempRoot } from '../helpers/cli.js';
import { buildLayout, skopeoPush, startRegistry, type TestRegistry } from '../helpers/registry.js';

let base: TempRoot;
let reg: TestRegistry;
let bin: string;

/** A helper keeping {ServerURL: {Username, Secret}} in $FAKE_CRED_DIR/NAME.json (jq does the JSON). */
function writeHelper(name: string): void {
  const script = `#!/bin/bash
set -e
store="$FAKE_CRED_DIR/${name}.json"
[ -f "$store" ] || echo '{}' > "$store"
in=$(cat)
echo "${name} $1 $in" >> "$FAKE_CRED_DIR/calls.log"
case "$1" in
  get)
    if jq -e --arg u "$in" 'has($u)' "$store" >/dev/null; then
      jq -c --arg u "$in" '{ServerURL: $u, Username: .[$u].Username, Secret: .[$u].Secret}' "$store"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  store)
    u=$(jq -r .ServerURL <<<"$in")
    jq --arg u "$u" --argjson v "$in" '.[$u] = {Username: $v.Username, Secret: $v.Secret}' "$store" > "$store.tmp" && mv "$store.tmp" "$store" ;;
  erase)
    jq -e --arg u "$in" 'has($u)' "$store" >/dev/null || { echo "credentials not found in native keychain"; exit 1; }
    jq --arg u "$in" 'del(.[$u])' "$store" > "$store.tmp" && mv "$store.tmp" "$store" ;;
  list) jq -c 'with_entries(.value = .value.Username)' "$store" ;;
  *) echo "unknown action"; exit 1 ;;
esac
`;
  fs.writeFileSync(path.join(bin, `docker-credential-${name}`), script, { mode: 0o755 });
}

before(async () => {
  base = tempRoot('tsrun-credhelpers-');
  reg = await startRegistry(path.join(base.scratch, 'reg'), 'basic');
  buildLayout(path.join(base.scratch, 'gz'));
  skopeoPush(path.join(base.scratch, 'gz'), 'latest', `${reg.host}/busybox:latest`, { format: 'v2s2', creds: `${reg.user}:${reg.pass}` });
  bin = path.join(base.scratch, 'bin');
  fs.mkdirSync(bin);
  writeHelper('fake');
  writeHelper('other');
  fs.writeFileSync(path.join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "keychain locked"; exit 3\n', { mode: 0o755 });
});

after(() => {
  reg?.stop();
  base?.cleanup();
});

interface Env {
  t: TempRoot;
  dockerDir: string;
  credDir: string;
  env: Record<string, string>;
}

function setup(config: object): Env {
  const t = tempRoot();
  const dockerDir = path.join(t.scratch, 'docker');
  const credDir = path.join(t.scratch, 'creds');
  fs.mkdirSync(dockerDir);
  fs.mkdirSync(credDir);
  fs.writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify(config));
  const env = { DOCKER_CONFIG: dockerDir, FAKE_CRED_DIR: credDir, PATH: `${bin}:${process.env.PATH}`, TSRUN_REGISTRIES_CONF: path.join(t.scratch, 'none.json') };
  return { t, dockerDir, credDir, env };
}

const calls = (e: Env) => (fs.existsSync(path.join(e.credDir, 'calls.log')) ? fs.readFileSync(path.join(e.credDir, 'calls.log'), 'utf8') : '');
const config = (e: Env) => JSON.parse(fs.readFileSync(path.join(e.dockerDir, 'config.json'), 'utf8'));

test('credsStore: login stores in the helper (config.json keeps an empty entry), pull and push get from it, logout erases', () => {
  const e = setup({ credsStore: 'fake' });
  try {
    const r = tsrun(e.t.root, ['login', '-u', reg.user, '--password-stdin', reg.host], { env: e.env, input: reg.pass + '\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(calls(e), new RegExp(`^fake store \\{"ServerURL":"${reg.host}","Username":"${reg.user}","Secret":"${reg.pass}"\\}$`, 'm'));
    assert.deepEqual(config(e).auths, { [reg.host]: {} });
    assert.ok(!fs.readFileSync(path.join(e.dockerDir, 'config.json'), 'utf8').includes(reg.pass));
    const p = tsrun(e.t.root, ['pull', '-q', `${reg.host}/busybox:latest`], { env: e.env });
    assert.equal(p.code, 0, p.stderr);
    assert.match(calls(e), new RegExp(`^fake get ${reg.host}$`, 'm'));
    assert.equal(tsrun(e.t.root, ['tag', `${reg.host}/busybox:latest`, `${reg.host}/pushed:1`]).code, 0);
    const push = tsrun(e.t.root, ['push', '-q', `${reg.host}/pushed:1`], { env: e.env });
    assert.equal(push.code, 0, push.stderr);
    const out = tsrun(e.t.root, ['logout', reg.host], { env: e.env });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Removing login credentials/);
    assert.match(calls(e), new RegExp(`^fake erase ${reg.host}$`, 'm'));
    assert.deepEqual(config(e).auths, {});
    // nothing left: the registry wants a login again
    const again = tsrun(e.t.root, ['pull', '-q', `${reg.host}/pushed:1`], { env: e.env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /unauthorized|authentication required|denied/i);
  } finally {
    e.t.cleanup();
  }
});

test('credHelpers for the registry win over credsStore; other registries use credsStore', () => {
  const e = setup({ credsStore: 'broken', credHelpers: { [reg.host]: 'other' } });
  try {
    fs.writeFileSync(path.join(e.credDir, 'other.json'), JSON.stringify({ [reg.host]: { Username: reg.user, Secret: reg.pass } }));
    const p = tsrun(e.t.root, ['pull', '-q', `${reg.host}/busybox:latest`], { env: e.env });
    assert.equal(p.code, 0, p.stderr);
    assert.match(calls(e), new RegExp(`^other get ${reg.host}$`, 'm'));
    // another registry goes to credsStore, here a helper that fails: one line naming it
    const b = tsrun(e.t.root, ['pull', '-q', `127.0.0.2:${reg.port}/busybox:latest`], { env: e.env });
    assert.equal(b.code, 1);
    assert.match(b.stderr, /^tsrun: (pulling \S+: )?error getting credentials - err: exit status 3, out: `keychain locked`/);
    assert.equal(b.stderr.trim().split('\n').length, 1);
  } finally {
    e.t.cleanup();
  }
});

test('a helper with nothing stored: anonymous (the registry then asks for a login); a missing helper: one-line error', () => {
  const e = setup({ credsStore: 'fake' });
  try {
    const p = tsrun(e.t.root, ['pull', '-q', `${reg.host}/busybox:latest`], { env: e.env });
    assert.equal(p.code, 1);
    assert.match(p.stderr, /unauthorized|authentication required|denied/i);
    assert.match(calls(e), /^fake get /m);
  } finally {
    e.t.cleanup();
  }
  const m = setup({ credsStore: 'nope' });
  try {
    const p = tsrun(m.t.root, ['pull', '-q', `${reg.host}/busybox:latest`], { env: m.env });
    assert.equal(p.code, 1);
    assert.match(p.stderr, /^tsrun: (pulling \S+: )?error getting credentials - err: exec: "docker-credential-nope": executable file not found in \$PATH/);
    const l = tsrun(m.t.root, ['login', '-u', reg.user, '--password-stdin', reg.host], { env: m.env, input: reg.pass });
    assert.equal(l.code, 1);
    assert.match(l.stderr, /error storing credentials/);
    assert.deepEqual(config(m), { credsStore: 'nope' }, 'config.json unchanged by the failed login');
  } finally {
    m.t.cleanup();
  }
});
