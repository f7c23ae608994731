/** RUN --mount parsing for ssh and cache-from, and `build --ssh` values (pure, plus stat of the paths). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseRunMount } from '../../src/ops/build/run-mount.js';
import { parseSshSpecs } from '../../src/ops/build/ssh-agents.js';

test('type=ssh: id defaults to "default", required and target kept, source and from refused', () => {
  assert.deepEqual(parseRunMount('type=ssh'), { type: 'ssh', readOnly: true, required: false, id: 'default' });
  const m = parseRunMount('type=ssh,id=deploy,target=/agent,required,uid=1000,mode=0660');
  assert.equal(m.id, 'deploy');
  assert.equal(m.target, '/agent');
  assert.equal(m.required, true);
  assert.equal(m.uid, 1000);
  assert.equal(m.mode, 0o660);
  assert.throws(() => parseRunMount('type=ssh,source=/x'), /ssh does not support source/);
  assert.throws(() => parseRunMount('type=ssh,from=base'), /ssh mount should not have a from/);
  assert.throws(() => parseRunMount('type=ssh,size=1'), /size not allowed/);
});

test('type=cache with from= and source=: parsed; sharing, mode, uid, gid checked', () => {
  const m = parseRunMount('type=cache,from=deps,source=/root/.m2,target=/root/.m2,sharing=locked,mode=0750,uid=1,gid=2');
  assert.deepEqual(
    { from: m.from, source: m.source, target: m.target, sharing: m.sharing, mode: m.mode, uid: m.uid, gid: m.gid, ro: m.readOnly },
    { from: 'deps', source: '/root/.m2', target: '/root/.m2', sharing: 'locked', mode: 0o750, uid: 1, gid: 2, ro: false },
  );
  assert.throws(() => parseRunMount('type=cache,target=/c,sharing=everyone'), /unsupported sharing value "everyone"/);
  assert.throws(() => parseRunMount('type=cache,target=/c,mode=999'), /invalid value 999 for mode/);
  assert.throws(() => parseRunMount('type=cache'), /cache mount needs a target/);
});

test('--ssh values: $SSH_AUTH_SOCK by default, one socket or key files per id', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-sshspec-'));
  const sock = path.join(dir, 's.sock');
  const server = net.createServer().listen(sock);
  await new Promise((r) => server.once('listening', r));
  try {
    const key = path.join(dir, 'key');
    fs.writeFileSync(key, 'x');
    assert.deepEqual([...parseSshSpecs(['default'], { SSH_AUTH_SOCK: sock }).values()], [{ id: 'default', socket: sock, keys: [] }]);
    assert.deepEqual([...parseSshSpecs([`a=${key},${key}`], {}).values()], [{ id: 'a', keys: [key, key] }]);
    assert.throws(() => parseSshSpecs(['default'], {}), /invalid empty ssh agent socket for --ssh default: make sure SSH_AUTH_SOCK is set/);
    assert.throws(() => parseSshSpecs([`a=${sock}`, `a=${sock}`], {}), /duplicate ssh agent ID a/);
    assert.throws(() => parseSshSpecs([`a=${sock},${sock}`], {}), /only a single socket/);
    assert.throws(() => parseSshSpecs([`a=${sock},${key}`], {}), /cannot combine a socket and key files/);
    assert.throws(() => parseSshSpecs([`a=${dir}`], {}), /neither a socket nor a key file/);
    assert.throws(() => parseSshSpecs(['=x'], {}), /the id is empty/);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
