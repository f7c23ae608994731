/**
 * scripts/bundle.js's two bundles: main.cjs with every command, run.cjs with
 * `run` alone (the measured start-up reads and compiles only what run can
 * reach), and bin/tsrun loading run.cjs for `run` only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUNDLES = path.join(REPO, 'dist', 'bundle', 'cli');

/** The command modules a bundle holds (esbuild names each module by its path). */
function commandModules(file: string): string[] {
  const text = fs.readFileSync(path.join(BUNDLES, file), 'latin1');
  return [...new Set([...text.matchAll(/"dist\/src\/cli\/commands\/([a-z-]+)\.js"/g)].map((m) => m[1]!))].sort();
}

test('run.cjs holds the run command alone; main.cjs holds every command', () => {
  assert.deepEqual(commandModules('run.cjs'), ['run', 'run-flags']);
  const all = commandModules('main.cjs');
  for (const c of ['run', 'images', 'ps', 'rm', 'build', 'exec', 'container']) assert.ok(all.includes(c), `main.cjs lacks ${c}`);
});

test('bin/tsrun loads run.cjs for run (found by the same rule as cli/main.ts) and main.cjs for the rest', () => {
  // a copy of bin/tsrun and the bundles: the code cache a command writes at exit is named after
  // the bundle it loaded, and the repo's own caches must stay those of real runs (one written by
  // `run --help` would leave every later run compiling its code)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bundle-test-'));
  try {
    const bundles = path.join(tmp, 'dist', 'bundle', 'cli');
    fs.mkdirSync(path.join(tmp, 'bin'));
    fs.mkdirSync(path.join(tmp, 'dist', 'src', 'cli'), { recursive: true });
    fs.mkdirSync(bundles, { recursive: true });
    for (const f of ['tsrun', 'package.json']) fs.copyFileSync(path.join(REPO, 'bin', f), path.join(tmp, 'bin', f));
    fs.writeFileSync(path.join(tmp, 'dist', 'src', 'cli', 'main.js'), ''); // older than the bundles: they are used
    for (const f of ['main.cjs', 'run.cjs']) fs.copyFileSync(path.join(BUNDLES, f), path.join(bundles, f));
    fs.symlinkSync(path.join(REPO, 'build'), path.join(tmp, 'build'));
    const root = path.join(tmp, 'root');
    const caches = () => new Set(fs.readdirSync(bundles).filter((f) => f.endsWith('.v8cache')).map((f) => f.replace(/\.\d+-\d+\./, '.')));
    const run = (args: string[]) => spawnSync(process.execPath, ['--', path.join(tmp, 'bin', 'tsrun'), ...args], { encoding: 'utf8' });
    // `run --help` registers run and prints its usage without running anything
    const r = run(['--cgroup-manager', 'cgroupfs', '--root', root, 'run', '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage: tsrun run/);
    assert.deepEqual([...caches()], ['run.cjs.run.v8cache']);
    const p = run(['--root', root, 'ps', '-a']);
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual([...caches()].sort(), ['main.cjs.ps.v8cache', 'run.cjs.run.v8cache']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
