#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in
// test runner. Node 20's --test does not expand globs, so we list the files.
// Usage: npm test [-- unit|integration|interop|FILTER...]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repo, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// the start-up bundle bin/tsrun loads: tests run the CLI as users get it
const bundle = spawnSync(process.execPath, ['scripts/bundle.js'], { cwd: repo, stdio: 'inherit' });
if (bundle.status !== 0) process.exit(bundle.status ?? 1);

const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
};
walk(path.join(repo, 'dist', 'test'));
const filters = process.argv.slice(2);
const chosen = files.filter((f) => !filters.length || filters.some((x) => f.includes(x))).sort();
if (!chosen.length) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...chosen], { cwd: repo, stdio: 'inherit' });
process.exit(r.status ?? 1);
