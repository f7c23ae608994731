/**
 * `tsrun stats` with the real CLI on this machine's cgroups: the numbers
 * `--no-stream` prints are the container's cgroup files' (read here
 * independently, through the layout recorded in ROOT/containers/ID/cgroup.json),
 * a busy loop shows CPU near one core while a sleeper shows none, a limit
 * written into the cgroup shows as the limit, `-a` adds stopped containers as
 * zeros, streaming prints a frame a second, and bad input is one line, exit 1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tsrun, tsrunOk, tsrunSpawn, tempRoot, importBusybox, type TempRoot } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { bytesSize, humanSizeWithPrecision } from '../../src/util/units.js';

interface Row {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

let t: TempRoot;
const ids: Record<string, string> = {};

function stats(args: string[]): Row[] {
  return tsrunOk(t.root, ['stats', '--no-stream', '--format', 'json', ...args])
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
}

/** The recorded cgroup layout: v1 controller → dir, or the one v2 dir under ''. */
function cgroupOf(id: string): { version: number; dir: (controller: string) => string } {
  const rec = JSON.parse(fs.readFileSync(path.join(t.root, 'containers', id, 'cgroup.json'), 'utf8')) as { version: number; byController: [string, string][] };
  const by = new Map(rec.byController);
  return { version: rec.version, dir: (c) => (rec.version === 2 ? by.get('')! : by.get(c)!) };
}

const readNum = (file: string) => Number(fs.readFileSync(file, 'utf8').trim());
const statKey = (file: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(fs.readFileSync(file, 'utf8'))?.[1] ?? 0);

/** MEM USAGE / LIMIT as docker computes it, straight from the files. */
function expectedMem(id: string): string {
  const g = cgroupOf(id);
  const v1 = g.version === 1;
  const usage = readNum(path.join(g.dir('memory'), v1 ? 'memory.usage_in_bytes' : 'memory.current'));
  const inactive = statKey(path.join(g.dir('memory'), 'memory.stat'), v1 ? 'total_inactive_file' : 'inactive_file');
  const limitText = fs.readFileSync(path.join(g.dir('memory'), v1 ? 'memory.limit_in_bytes' : 'memory.max'), 'utf8').trim();
  const limit = limitText === 'max' || Number(limitText) > os.totalmem() ? os.totalmem() : Number(limitText);
  return `${bytesSize(inactive < usage ? usage - inactive : usage)} / ${bytesSize(limit)}`;
}

function expectedPids(id: string): string {
  return String(readNum(path.join(cgroupOf(id).dir('pids'), 'pids.current')));
}

function expectedBlock(id: string): string {
  const g = cgroupOf(id);
  let read = 0;
  let write = 0;
  if (g.version === 1) {
    const dir = g.dir('blkio');
    const cfq = path.join(dir, 'blkio.io_service_bytes_recursive');
    const text = fs.existsSync(cfq) && fs.readFileSync(cfq, 'utf8').trim() ? fs.readFileSync(cfq, 'utf8') : fs.readFileSync(path.join(dir, 'blkio.throttle.io_service_bytes_recursive'), 'utf8');
    for (const m of text.matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm)) m[1] === 'Read' ? (read += Number(m[2])) : (write += Number(m[2]));
  } else {
    const text = fs.readFileSync(path.join(g.dir('io'), 'io.stat'), 'utf8');
    for (const m of text.matchAll(/rbytes=(\d+)/g)) read += Number(m[1]);
    for (const m of text.matchAll(/wbytes=(\d+)/g)) write += Number(m[1]);
  }
  return `${humanSizeWithPrecision(read, 3)} / ${humanSizeWithPrecision(write, 3)}`;
}

/** NET I/O from the container's namespace (its process 1's /proc/PID/net/dev), lo left out. */
function expectedNet(id: string): string {
  const pid = (JSON.parse(fs.readFileSync(path.join(t.root, 'containers', id, 'state.json'), 'utf8')) as { pid: number }).pid;
  let rx = 0;
  let tx = 0;
  for (const line of fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name!.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0]!;
    tx += f[8]!;
  }
  return `${humanSizeWithPrecision(rx, 3)} / ${humanSizeWithPrecision(tx, 3)}`;
}

/**
 * Compare a stats column with the files: read them before and after the
 * command and accept only a stable reading (a container's memory or traffic
 * may move while we look); a few tries.
 */
function matchesFiles(id: string, column: keyof Row, expected: (id: string) => string): void {
  let last = '';
  for (let i = 0; i < 5; i++) {
    const before = expected(id);
    const row = stats([id])[0]!;
    const after = expected(id);
    if (before === after) {
      assert.equal(row[column], before, `${column} of ${id.slice(0, 12)}`);
      return;
    }
    last = `${before} → ${after}`;
  }
  assert.fail(`the cgroup files of ${id.slice(0, 12)} never held still for ${column}: ${last}`);
}

/** The commands of the processes in the container's pids cgroup (a process gone meanwhile left out). */
function processNames(id: string): string[] {
  const procs = fs.readFileSync(path.join(cgroupOf(id).dir('pids'), 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  return procs.flatMap((pid) => {
    try {
      return [fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()];
    } catch {
      return [];
    }
  });
}

describe('stats', () => {
  before(async () => {
    t = tempRoot('tsrun-stats-');
    importBusybox(t.root);
    ids.busy = tsrunOk(t.root, ['run', '-d', '--name', 'busy', 'busybox', 'sh', '-c', 'while :; do :; done']).trim();
    ids.idle = tsrunOk(t.root, ['run', '-d', '--name', 'idle', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1k count=2048 2>/dev/null; sleep 601 & exec sleep 600']).trim();
    ids.stopped = tsrunOk(t.root, ['create', '--name', 'stopped', 'busybox', 'true']).trim();
    // the idle one has written its file and settled into its two sleeps (its numbers hold still from here)
    await until('the idle container to settle', () => processNames(ids.idle!).join() === 'sleep,sleep', 60_000);
  });
  after(() => {
    tsrun(t.root, ['rm', '-f', ...Object.values(ids)]);
    t.cleanup();
  });

  it('lists the running containers with docker columns; the numbers are the cgroup files\'', async () => {
    const table = tsrunOk(t.root, ['stats', '--no-stream']);
    const lines = table.trimEnd().split('\n');
    assert.match(lines[0]!, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
    assert.equal(lines.length, 3, 'two running containers, not the created one');
    assert.match(table, /^[0-9a-f]{12} +busy +\d+\.\d\d% +[\d.]+[KMG]?i?B \/ [\d.]+[KMG]iB +\d+\.\d\d% +[\d.]+k?B \/ [\d.]+k?B +[\d.]+[kMG]?B \/ [\d.]+[kMG]?B +1$/m);
    matchesFiles(ids.idle!, 'MemUsage', expectedMem);
    matchesFiles(ids.idle!, 'PIDs', expectedPids);
    matchesFiles(ids.idle!, 'BlockIO', expectedBlock);
    matchesFiles(ids.idle!, 'NetIO', expectedNet);
    matchesFiles(ids.busy!, 'PIDs', expectedPids);
  });

  // the machine is shared (other tests, other work): a busy loop gets what the scheduler gives it
  // one reading is a 200 ms window, in which a busy machine may leave the loop less than a tenth of a
  // core: up to five readings for that; the sleeper must show next to none in every one
  it('CPU %: a busy loop well above a sleeper, which shows next to none (two readings, tolerance)', () => {
    const cpu = (r: Row) => Number(r.CPUPerc.replace('%', ''));
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const rows = stats(['busy', 'idle']);
      assert.equal(rows[0]!.Name, 'busy');
      assert.equal(rows[0]!.Container, 'busy', '.Container is the name given');
      // one busy thread: at most one CPU's 100% (a pause between a reading's two samples skews it a little)
      assert.ok(cpu(rows[0]!) <= 150, `busy: ${rows[0]!.CPUPerc}`);
      assert.ok(cpu(rows[1]!) < 2, `idle: ${rows[1]!.CPUPerc}`);
      seen.push(rows[0]!.CPUPerc);
      if (cpu(rows[0]!) > 10) return;
    }
    assert.fail(`busy never above 10%: ${seen.join(', ')}`);
  });

  it('a limit in the cgroup is the LIMIT, and MEM % is against it', () => {
    const g = cgroupOf(ids.idle!);
    const file = path.join(g.dir('memory'), g.version === 1 ? 'memory.limit_in_bytes' : 'memory.max');
    const old = fs.readFileSync(file, 'utf8').trim();
    fs.writeFileSync(file, String(256 * 1024 * 1024));
    try {
      const row = stats(['idle'])[0]!;
      assert.match(row.MemUsage, / \/ 256MiB$/);
      const used = readNum(path.join(g.dir('memory'), g.version === 1 ? 'memory.usage_in_bytes' : 'memory.current'));
      assert.ok(Number(row.MemPerc.replace('%', '')) <= (used / (256 * 1024 * 1024)) * 100 + 0.01, row.MemPerc);
    } finally {
      fs.writeFileSync(file, old === 'max' ? 'max' : '-1');
    }
  });

  it('-a adds stopped containers as zeros; --no-trunc the full ID; a template per row', () => {
    const all = tsrunOk(t.root, ['stats', '-a', '--no-stream', '--no-trunc', '--format', '{{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}']).trim().split('\n');
    assert.equal(all.length, 3);
    assert.ok(all.includes(`${ids.stopped} stopped 0.00% 0B / 0B 0B / 0B 0B / 0B 0`), all.join('\n'));
    assert.ok(all.every((l) => /^[0-9a-f]{64} /.test(l)));
    const header = tsrunOk(t.root, ['stats', '--no-stream', '--format', 'table {{.Name}}\t{{.PIDs}}', 'idle']).split('\n');
    assert.match(header[0]!, /^NAME +PIDS$/);
    assert.match(header[1]!, /^idle +2$/);
  });

  it('streams a frame a second until stopped (not a terminal: frames one after another)', async () => {
    const p = tsrunSpawn(t.root, ['stats', '--format', '{{.Name}}', 'idle']);
    let out = '';
    const at: number[] = []; // when each frame came (timed from its first one: tsrun's start is no part of it)
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const l of d.toString().split('\n')) if (l === 'idle') at.push(Date.now());
    });
    const closed = new Promise((r) => p.once('close', r));
    await until('four frames', () => at.length >= 4 || p.exitCode !== null, 60_000);
    p.kill('SIGTERM');
    await closed;
    assert.ok(at.length >= 4, `frames: ${at.length}`);
    const gaps = at.slice(1, 4).map((v, i) => v - at[i]!);
    // never faster than a frame a second (3 s for three frames, less what a busy machine's delivery may shift)...
    assert.ok(at[3]! - at[0]! >= 2000, `three frames in ${at[3]! - at[0]!} ms (gaps ${gaps.join(', ')})`);
    // ... and about that: a 2 s (or slower) refresh would give no gap under 2 s
    assert.ok(Math.min(...gaps) < 2000, `no frame within 2 s of the one before (gaps ${gaps.join(', ')})`);
    assert.ok(!out.includes('\x1b['), 'no escape codes when stdout is not a terminal');
  });

  it('streaming a named container that is removed meanwhile goes on without it', async () => {
    const gone = tsrunOk(t.root, ['run', '-d', '--name', 'gone', 'busybox', 'sleep', '600']).trim();
    const p = tsrunSpawn(t.root, ['stats', '--format', '{{.Name}}', 'gone', 'idle']);
    let out = '';
    let exited = false;
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('close', () => (exited = true));
    await until('a frame with both', () => /^gone\nidle$/m.test(out) || exited, 60_000);
    tsrunOk(t.root, ['rm', '-f', gone]);
    const mark = out.length;
    // a frame may still hold gone (read before the rm); then frames of idle alone
    const lines = () => out.slice(mark).split('\n').filter(Boolean);
    await until('two frames without gone', () => (lines().at(-1) === 'idle' && lines().at(-2) === 'idle') || exited, 60_000);
    assert.ok(!exited, 'stats still running');
    p.kill('SIGTERM');
    await new Promise((r) => (exited ? r(undefined) : p.once('close', r)));
    assert.match(out.slice(0, mark), /^gone$/m);
    const later = out.slice(mark).split('\n').filter(Boolean);
    assert.ok(later.includes('idle') && later.lastIndexOf('gone') < later.lastIndexOf('idle') && later.at(-1) === 'idle', JSON.stringify(later));
    assert.ok(!later.slice(-2).includes('gone'), `gone left the table: ${JSON.stringify(later)}`);
  });

  it('bad input: an unknown container, a bad template, an unknown flag', () => {
    let r = tsrun(t.root, ['stats', '--no-stream', 'idle', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '', 'nothing printed before the error');
    assert.match(r.stderr, /^tsrun: No such container: nope/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    r = tsrun(t.root, ['stats', '--no-stream', '--format', '{{.Nope}}']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /template parsing error: .*can't evaluate field Nope in type \*formatter\.statsContext/);
    r = tsrun(t.root, ['stats', '--no-stream', '--format', '{{.Name']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tsrun: template parsing error: /);
    r = tsrun(t.root, ['stats', '--bogus']);
    assert.equal(r.code, 125);
  });
});
