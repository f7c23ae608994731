/**
 * A private ssh-agent for a test (ssh-agent -D on a socket in the test's temp dir) holding one key.
 * The caller SIGTERMs it by pid when done.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { acceptsConnection } from '../../src/util/socket-accepts.js';

export async function startSshAgent(sock: string, keyFile: string): Promise<ChildProcess> {
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  // its socket file appears at bind(), before listen(): wait for an accepted connection
  for (let end = Date.now() + 30_000; !(await acceptsConnection(sock)); ) {
    assert.ok(Date.now() < end, 'ssh-agent did not listen');
    await new Promise((r) => setTimeout(r, 20));
  }
  const add = spawnSync('ssh-add', ['-q', keyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8' });
  assert.equal(add.status, 0, `ssh-add failed: ${add.stderr}`);
  return agent;
}

