import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { normalizeBoolFlags } from '../../src/cli/argv.js';
import { EXIT, TsrunError, exitCodeFor, flagError } from '../../src/util/errors.js';
import { unsupportedDockerFlag } from '../../src/cli/docker-flags.js';

function program(): Command {
  const p = new Command('tsrun').option('--root <dir>').enablePositionalOptions();
  p.command('run')
    .argument('<image>')
    .argument('[cmd...]')
    .passThroughOptions()
    .option('-i, --interactive')
    .option('-t, --tty')
    .option('--rm')
    .option('--name <name>')
    .option('-e, --env <kv>');
  p.command('ps').option('-a, --all').option('--no-trunc').option('-n, --last <n>');
  p.command('history').argument('<image>').option('-H, --human', 'h', true).option('--no-human').option('-q, --quiet');
  const c = p.command('container');
  c.command('ls').option('-a, --all');
  return p;
}

test('--flag=true|false: true keeps the flag, false drops it, other values are a flag error', () => {
  const p = program();
  assert.deepEqual(normalizeBoolFlags(p, ['--root', '/r', 'ps', '--all=true', '--no-trunc=false']), ['--root', '/r', 'ps', '--all']);
  assert.deepEqual(normalizeBoolFlags(p, ['ps', '-a=false', '-n', '3']), ['ps', '-n', '3']);
  assert.deepEqual(normalizeBoolFlags(p, ['ps', '--all=1', '--all=F']), ['ps', '--all']);
  assert.deepEqual(normalizeBoolFlags(p, ['container', 'ls', '--all=True']), ['container', 'ls', '--all']);
  assert.deepEqual(normalizeBoolFlags(p, ['history', '-H=false', 'busybox']), ['history', '--no-human', 'busybox']);
  assert.deepEqual(normalizeBoolFlags(p, ['history', '--human=false', '-qH=false', 'busybox']), ['history', '--no-human', '-q', '--no-human', 'busybox']);
  assert.deepEqual(normalizeBoolFlags(p, ['history', '-H', 'busybox']), ['history', '-H', 'busybox']);
  assert.throws(() => normalizeBoolFlags(p, ['ps', '--all=yes']), (e: unknown) => e instanceof TsrunError && /ParseBool/.test(e.message));
});

test('--flag=false stops at the image: the container command keeps its own arguments', () => {
  const p = program();
  assert.deepEqual(
    normalizeBoolFlags(p, ['run', '--rm=false', '-it=true', '--name', '--rm=x', 'busybox', 'ls', '--all=false', '-a=false']),
    ['run', '-it', '--name', '--rm=x', 'busybox', 'ls', '--all=false', '-a=false'],
  );
  assert.deepEqual(normalizeBoolFlags(p, ['run', '-it=false', 'busybox']), ['run', '-i', 'busybox']);
  assert.deepEqual(normalizeBoolFlags(p, ['run', '-e', 'A=1', '--', 'busybox', '--rm=false']), ['run', '-e', 'A=1', '--', 'busybox', '--rm=false']);
});

test('exit codes: 125 while parsing and for run/create, 1 otherwise, explicit and exec codes kept', () => {
  const nf = new TsrunError('NOT_FOUND', 'No such container: x');
  assert.equal(exitCodeFor(nf, { parsing: false, command: 'stop' }), EXIT.FAILURE);
  assert.equal(exitCodeFor(nf, { parsing: false, command: 'run' }), EXIT.RUNTIME);
  assert.equal(exitCodeFor(nf, { parsing: false, command: 'create' }), EXIT.RUNTIME);
  assert.equal(exitCodeFor(new TsrunError('USAGE', 'bad'), { parsing: true, command: 'ps' }), EXIT.RUNTIME);
  assert.equal(exitCodeFor(new TsrunError('EXEC_NOT_FOUND', 'x'), { parsing: false, command: 'exec' }), 127);
  assert.equal(exitCodeFor(new TsrunError('EXEC_DENIED', 'x'), { parsing: false, command: 'run' }), 126);
  assert.equal(exitCodeFor(new TsrunError('USAGE', 'tty', { exitCode: 1 }), { parsing: false, command: 'run' }), 1);
  assert.equal(exitCodeFor(new Error('plain'), { parsing: false, command: 'logs' }), EXIT.FAILURE);
  // a flag value docker's CLI rejects while parsing (build's -t, --label): 125 even when found in the action
  assert.equal(exitCodeFor(flagError('invalid argument'), { parsing: false, command: 'build' }), EXIT.RUNTIME);
});

test('docker flags tsrun lacks are named as such', () => {
  assert.equal(unsupportedDockerFlag('run', '--gpus'), '--gpus is not supported by tsrun');
  assert.equal(unsupportedDockerFlag('run', '--uts=host'), '--uts is not supported by tsrun');
  assert.equal(unsupportedDockerFlag('run', '--sysctl=net.core.somaxconn=1024'), undefined, 'a flag tsrun has');
  assert.equal(unsupportedDockerFlag('ps', '--size'), '--size is not supported by tsrun');
  assert.equal(unsupportedDockerFlag('run', '--frobnicate'), undefined);
});
