/**
 * Crash consistency: SIGKILL at random points of load, pull, commit, rmi,
 * image prune and rm (seeded: the seed of each round is printed, and
 * TSRUN_CRASH_SEED=N replays the same ops, kill points as the same fractions of each op's measured time), within a bounded time. After every kill
 * `images` and `ps -a` work (and `exec` in a container whose commit was
 * killed); at the end `image prune -a -f` empties the store
 * — no blob without an image, no layer without a blob, no temp file, no
 * mount, no cgroup — and a fresh import and `run` work.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TSRUN, tempRoot, tsrun, tsrunOk, tsrunSpawn, importBusybox, busyboxTar, mountsUnder, type TempRoot } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { until } from '../helpers/wait.js';

let tr: TempRoot;
let reg: TestRegistry;
let archive: string;
/** Every container ID seen, for the cgroup leak check. */
const seenIds = new Set<string>();

/** Total time for the kill rounds (the checks at the end come on top). */
const BUDGET_MS = Number(process.env.TSRUN_CRASH_BUDGET_MS ?? 40_000);

/** mulberry32: a small seeded PRNG, so a failing round can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ok = (args: string[]) => tsrunOk(tr.root, args);
const quiet = (args: string[]) => tsrun(tr.root, args);

function noteContainers(): void {
  for (const id of quiet(['ps', '-a', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean)) seenIds.add(id);
}

/** Spawn tsrun, SIGKILL it after `delayMs` (if still running); resolve when it is gone. */
function killAfter(args: string[], delayMs: number): Promise<{ code: number | null; killed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const p = tsrunSpawn(tr.root, args);
    p.stdout.resume();
    p.stderr.resume();
    let killed = false;
    const timer = setTimeout(() => {
      killed = p.exitCode === null;
      p.kill('SIGKILL');
    }, delayMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, killed, ms: Date.now() - started });
    });
  });
}

before(async () => {
  tr = tempRoot('tsrun-crash-');
  importBusybox(tr.root);
  // a container that keeps busybox in use and is committed while it runs: 32 MB of changes keep
  // it frozen long enough per commit that random kills land inside the freeze
  ok(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'mkdir -p /data && dd if=/dev/urandom of=/data/big bs=1M count=32 2>/dev/null && touch /data/ready; sleep 100000']);
  const ready = path.join(tr.root, 'containers', ok(['inspect', '-f', '{{.Id}}', 'live']).trim(), 'upper', 'data', 'ready');
  await until('the live container to write its data', () => fs.existsSync(ready), 120_000);
  archive = path.join(tr.scratch, 'load.tar');
  ok(['run', '--name', 'forload', 'busybox', 'sh', '-c', 'echo load > /loaded']);
  ok(['commit', 'forload', 'crash/load:1']);
  ok(['save', '-o', archive, 'crash/load:1']);
  ok(['rm', 'forload']);
  ok(['rmi', 'crash/load:1']);
  reg = await startRegistry(path.join(tr.scratch, 'registry'));
  ok(['run', '--name', 'forpull', 'busybox', 'sh', '-c', 'echo pull > /pulled']);
  ok(['commit', 'forpull', `${reg.host}/crash/pull:1`]);
  ok(['push', '-q', `${reg.host}/crash/pull:1`]);
  ok(['rm', 'forpull']);
  ok(['rmi', `${reg.host}/crash/pull:1`]);
  noteContainers();
});

after(() => {
  reg?.stop();
  tr?.cleanup();
});

type Op = 'load' | 'pull' | 'commit' | 'rmi' | 'prune' | 'rm';
const OPS: Op[] = ['load', 'pull', 'commit', 'rmi', 'prune', 'rm'];

/** Set up what the op needs; return its argv. */
function prepare(op: Op, rnd: () => number, round: number): string[] {
  switch (op) {
    case 'load':
      quiet(['rmi', '-f', 'crash/load:1']);
      return ['load', '-q', '-i', archive];
    case 'pull':
      quiet(['rmi', '-f', `${reg.host}/crash/pull:1`]);
      if (rnd() < 0.5) quiet(['image', 'prune', '-f']);
      return ['pull', '-q', `${reg.host}/crash/pull:1`];
    case 'commit': {
      if (rnd() < 0.5) return ['commit', 'live', `crash/commit:${round}`];
      quiet(['rm', '-f', 'stopped']);
      ok(['run', '--name', 'stopped', 'busybox', 'sh', '-c', `echo ${round} > /r; mkdir -p /d; for i in 1 2 3 4 5 6 7 8 9; do echo $i > /d/$i; done`]);
      noteContainers();
      return ['commit', 'stopped', `crash/commit:${round}`];
    }
    case 'rmi': {
      const mine = quiet(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter((r) => r.includes('crash/'));
      if (!mine.length) ok(['tag', 'busybox', `crash/tag:${round}`]);
      const pick = mine.length ? mine[Math.floor(rnd() * mine.length)]! : `crash/tag:${round}`;
      return ['rmi', '-f', pick];
    }
    case 'prune':
      // prune -a keeps busybox (the live container uses it) and removes the rest
      return rnd() < 0.5 ? ['image', 'prune', '-a', '-f'] : ['image', 'prune', '-f'];
    case 'rm': {
      const name = `victim${round}`;
      if (rnd() < 0.5) ok(['run', '-d', '--name', name, 'busybox', 'sleep', '100000']);
      else ok(['create', '--name', name, 'busybox', 'true']);
      noteContainers();
      return ['rm', '-f', name];
    }
  }
}

test('SIGKILL at random points of load, pull, commit, rmi, prune and rm leaves a store that works and leaks nothing', { timeout: 600_000 }, async (t) => {
  const first = Number(process.env.TSRUN_CRASH_SEED ?? Date.now() % 100_000);
  const end = Date.now() + BUDGET_MS;
  let rounds = 0;
  let kills = 0;
  // How long each op took when it ran to the end: kills land uniformly within it, so they fall
  // mid-way on a fast machine as on a loaded one (a fixed 0-700 ms window missed most of a 80 ms rmi).
  const typical = new Map<Op, number>();
  for (let seed = first; Date.now() < end; seed++, rounds++) {
    const rnd = prng(seed);
    const op = OPS[Math.floor(rnd() * OPS.length)]!;
    const argv = prepare(op, rnd, rounds);
    const delay = Math.floor(rnd() * (typical.get(op) ?? 700));
    const r = await killAfter(argv, delay);
    if (r.killed) kills++;
    else typical.set(op, r.ms);
    const what = `seed ${seed}: tsrun ${argv.join(' ')} killed after ${delay} ms`;
    for (const check of [['images'], ['ps', '-a']]) {
      const c = quiet(check);
      assert.equal(c.code, 0, `${what}; then tsrun ${check.join(' ')}: ${c.stderr}`);
    }
    if (argv[0] === 'commit' && argv[1] === 'live') {
      // a commit killed while it had the container frozen must not leave it frozen: exec runs
      const e = spawnSync(process.execPath, [TSRUN, '--root', tr.root, 'exec', 'live', 'true'], { timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' });
      assert.equal(e.status, 0, `${what}; then tsrun exec live true: ${e.signal ? `hung (${e.signal} after 60 s)` : e.stderr}`);
    }
    noteContainers();
  }
  t.diagnostic(`${rounds} rounds from seed ${first}, ${kills} killed mid-way`);
  assert.ok(kills >= rounds / 3, `most rounds kill mid-way (${kills} of ${rounds})`);

  // the store after all that: containers go, then every image; nothing may remain
  const names = quiet(['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n').filter(Boolean);
  if (names.length) ok(['rm', '-f', ...names]);
  ok(['image', 'prune', '-a', '-f']);
  assert.equal(ok(['images', '-a', '-q']), '');
  assert.equal(ok(['ps', '-a', '-q']), '');
  const listing = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((n) => !n.endsWith('.lock')) : []);
  assert.deepEqual(listing(path.join(tr.root, 'content', 'blobs', 'sha256')), [], 'no blob without an image');
  assert.deepEqual(listing(path.join(tr.root, 'content', 'ingest')), [], 'no ingest temp file');
  assert.deepEqual(listing(path.join(tr.root, 'layers')).filter((n) => !n.startsWith('.')), [], 'no layer without a blob');
  assert.deepEqual(listing(path.join(tr.root, 'layers', '.tmp')), [], 'no half-unpacked layer');
  assert.deepEqual(listing(path.join(tr.root, 'containers')), [], 'no container dir or trash');
  assert.deepEqual(mountsUnder(tr.root), [], 'no mount');
  const cgroups = [...seenIds].map((id) => `tsrun-${id.slice(0, 12)}`);
  const left = fs.readdirSync('/sys/fs/cgroup').flatMap((ctl) => {
    const d = path.join('/sys/fs/cgroup', ctl);
    try {
      return fs.readdirSync(d).filter((n) => cgroups.includes(n)).map((n) => path.join(d, n));
    } catch {
      return [];
    }
  });
  assert.deepEqual(left, [], 'no cgroup');
  // and it still works from scratch
  ok(['import', busyboxTar(), 'busybox:latest']);
  assert.equal(ok(['run', '--rm', 'busybox', 'echo', 'fresh']), 'fresh\n');
});
