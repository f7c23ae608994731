/**
 * Cgroups against the real kernel: create a container cgroup below a private
 * parent (TSRUN_CGROUP_PARENT), move a sleeping child in, list, freeze, thaw,
 * signal, kill, remove — and leave nothing behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import {
  cgroupDirs,
  containerCgroup,
  controllerDir,
  cgroupExists,
  cgroupFrozen,
  cgroupPids,
  createCgroup,
  freezeCgroup,
  killCgroup,
  removeCgroup,
  thawCgroup,
} from '../../src/runtime/cgroups.js';
import { procState } from '../../src/containers/status.js';
import { openCtx, type Ctx } from '../../src/context.js';
import os from 'node:os';
import { until } from '../helpers/wait.js';

const parent = `/tsrun-unit-${process.pid}`;
process.env.TSRUN_CGROUP_PARENT = parent;
// a real store: the cgroup's location is recorded in containers/ID/cgroup.json
const ctx: Ctx = openCtx(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-cgroups-')));
const children: ChildProcess[] = [];

function sleeper(): ChildProcess {
  const p = spawn('sleep', ['100'], { stdio: 'ignore' });
  children.push(p);
  return p;
}


/** Parent dirs (TSRUN_CGROUP_PARENT) of every hierarchy. */
function parentDirs(): string[] {
  return cgroupDirs('0'.repeat(64), ctx).dirs.map((d) => path.dirname(d));
}

after(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(ctx.root, { recursive: true, force: true });
  for (const d of parentDirs()) {
    for (const sub of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      if (!sub.isDirectory()) continue;
      try {
        fs.rmdirSync(path.join(d, sub.name));
      } catch {
        /* busy or gone */
      }
    }
  }
  for (const d of parentDirs()) {
    try {
      fs.rmdirSync(d);
    } catch {
      /* gone */
    }
  }
});

test('the cgroup lives below TSRUN_CGROUP_PARENT in every hierarchy and nowhere else', () => {
  const id = crypto.randomBytes(32).toString('hex');
  const layout = cgroupDirs(id, ctx);
  assert.ok(layout.dirs.length >= 1);
  for (const d of layout.dirs) assert.ok(d.endsWith(`${parent}/tsrun-${id.slice(0, 12)}`), d);
  if (layout.version === 1) {
    for (const c of ['pids', 'memory', 'freezer', 'cpuset']) assert.ok(layout.byController.get(c), `v1 controller ${c} is used`);
  }
});

test('create, join, list, freeze, thaw, kill, remove', async () => {
  const id = crypto.randomBytes(32).toString('hex');
  const { procsFiles } = createCgroup(ctx, id);
  assert.ok(cgroupExists(id, ctx));
  const child = sleeper();
  await new Promise((r) => child.once('spawn', r));
  for (const f of procsFiles) fs.writeFileSync(f, String(child.pid));
  assert.deepEqual(cgroupPids(id, ctx), [child.pid]);

  freezeCgroup(id, ctx);
  assert.ok(cgroupFrozen(id, ctx));
  const layout = cgroupDirs(id, ctx);
  if (layout.version === 1) assert.equal(fs.readFileSync(path.join(layout.byController.get('freezer')!, 'freezer.state'), 'utf8').trim(), 'FROZEN');
  // a frozen task sleeps in the freezer (D on v1, S on v2): it must not be running
  assert.notEqual(procState(child.pid!), 'R');

  thawCgroup(id, ctx);
  assert.ok(!cgroupFrozen(id, ctx));

  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
  killCgroup(id, 'SIGKILL', ctx);
  assert.equal(await exited, 'SIGKILL');
  await until('the cgroup to empty', () => cgroupPids(id, ctx).length === 0, 60_000);
  removeCgroup(id, ctx);
  assert.ok(!cgroupExists(id, ctx));
  for (const d of layout.dirs) assert.ok(!fs.existsSync(d), `${d} removed`);
});

test('killCgroup with another signal reaches every process of the cgroup', async () => {
  const id = crypto.randomBytes(32).toString('hex');
  const { procsFiles } = createCgroup(ctx, id);
  const a = sleeper();
  const b = sleeper();
  await Promise.all([a, b].map((p) => new Promise((r) => p.once('spawn', r))));
  for (const p of [a, b]) for (const f of procsFiles) fs.writeFileSync(f, String(p.pid));
  assert.deepEqual(cgroupPids(id, ctx), [a.pid!, b.pid!].sort((x, y) => x - y));
  const gone = [a, b].map((p) => new Promise<NodeJS.Signals | null>((r) => p.once('exit', (_c, s) => r(s))));
  killCgroup(id, 'SIGTERM', ctx);
  assert.deepEqual(await Promise.all(gone), ['SIGTERM', 'SIGTERM']);
  await until('the cgroup to empty', () => cgroupPids(id, ctx).length === 0, 60_000);
  removeCgroup(id, ctx);
  assert.ok(!cgroupExists(id, ctx));
});

test('removeCgroup tolerates a cgroup that does not exist; killCgroup of a missing cgroup is a no-op', () => {
  const id = crypto.randomBytes(32).toString('hex');
  removeCgroup(id, ctx);
  killCgroup(id, 'SIGKILL', ctx);
  assert.deepEqual(cgroupPids(id, ctx), []);
});

test('containerCgroup reads the recorded layout back (stats/update read API); undefined without a record or a dir', () => {
  const id = crypto.randomBytes(32).toString('hex');
  assert.equal(containerCgroup(ctx, id), undefined, 'no record');
  fs.mkdirSync(path.join(ctx.containersDir, id), { recursive: true });
  const made = createCgroup(ctx, id);
  const layout = containerCgroup(ctx, id);
  assert.ok(layout);
  assert.deepEqual(layout.dirs, made.dirs);
  const mem = controllerDir(layout, 'memory');
  assert.ok(mem && fs.existsSync(path.join(mem, layout.version === 2 ? 'memory.max' : 'memory.limit_in_bytes')), `memory dir ${mem}`);
  removeCgroup(id, ctx);
  assert.equal(containerCgroup(ctx, id), undefined, 'dirs gone');
});
