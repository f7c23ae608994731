/**
 * info, version, system df, system prune, container prune, help and the bare
 * `tsrun` with the real CLI against a temporary --root, as a docker user types
 * them; bad input (a bad filter or template) is one line, exit 1, and leaves
 * the store as it was.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tsrun, tsrunOk, tempRoot, importBusybox, snapshotTree, busyboxTar, type TempRoot } from '../helpers/cli.js';

let t: TempRoot;
const ok = (args: string[], input?: string) => tsrunOk(t.root, args, input === undefined ? {} : { input });
const psNames = () => ok(['ps', '-a', '--format', '{{.Names}}']).split('\n').filter(Boolean).sort();

describe('info, version, system', () => {
  before(() => {
    t = tempRoot('tsrun-system-');
    importBusybox(t.root);
  });
  after(() => {
    const ids = tsrunOk(t.root, ['ps', '-aq']).split('\n').filter(Boolean);
    if (ids.length) tsrun(t.root, ['rm', '-f', ...ids]);
    t.cleanup();
  });

  it('tsrun alone prints the usage on stdout, exit 0; help CMD is CMD --help; an unknown topic fails', () => {
    const r = tsrun(t.root, []);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: tsrun \[options\] \[command\]/);
    assert.match(r.stdout, /\n {2}stats \[options\]/);
    assert.match(r.stdout, /\n {2}system /);
    assert.equal(tsrun(t.root, ['help']).stdout, r.stdout);
    const h = tsrun(t.root, ['help', 'ps']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^Usage: tsrun ps \[options\]/);
    const bad = tsrun(t.root, ['help', 'nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tsrun: unknown help topic: nope/);
  });

  it('info: counts, storage, cgroups, runtimes, kernel, registries; --format fields and json', () => {
    const run = ok(['run', '-d', '--name', 'up', 'busybox', 'sleep', '300']).trim();
    ok(['create', '--name', 'made', 'busybox', 'true']);
    try {
      const text = ok(['info']);
      for (const re of [/^ Containers: 2$/m, /^ {2}Running: 1$/m, /^ {2}Paused: 0$/m, /^ {2}Stopped: 1$/m, /^ Images: 1$/m, /^ Storage Driver: overlay2$/m, /^ {2}Backing Filesystem: \w+/m, /^ Cgroup Driver: cgroupfs$/m, /^ Cgroup Version: [12]$/m, /^ Runtimes: tsrun tsrun-runtime$/m, /^ {2}seccomp$/m, /^ {3}Profile: builtin$/m, /^ Kernel Version: /m, /^ Operating System: /m, /^ CPUs: \d+$/m, /^ Total Memory: [\d.]+GiB$/m, /^ Insecure Registries:\n {2}127\.0\.0\.0\/8$/m]) {
        assert.match(text, re);
      }
      assert.ok(text.includes(` Root Dir: ${t.root}\n`));
      assert.ok(text.includes(` Kernel Version: ${os.release()}\n`));
      const cgv = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' /sys/fs/cgroup rw') && / \/sys\/fs\/cgroup [^-]* - cgroup2 /.test(fs.readFileSync('/proc/self/mountinfo', 'utf8')) ? '2' : '1';
      assert.equal(ok(['info', '--format', '{{.ContainersRunning}}/{{.ContainersStopped}}/{{.Images}} {{.CgroupVersion}} {{.Driver}} {{.DockerRootDir}}']), `1/1/1 ${cgv} overlay2 ${t.root}\n`);
      const j = JSON.parse(ok(['info', '--format', 'json'])) as { NCPU: number; MemTotal: number; Runtimes: Record<string, unknown>; RegistryConfig: { IndexConfigs: Record<string, unknown> } };
      assert.equal(j.NCPU, os.cpus().length);
      assert.equal(j.MemTotal, os.totalmem());
      assert.deepEqual(Object.keys(j.Runtimes).sort(), ['tsrun', 'tsrun-runtime']);
      assert.ok(j.RegistryConfig.IndexConfigs['docker.io']);
      assert.equal(ok(['system', 'info', '--format', '{{.Containers}}']), '2\n');
      const conf = path.join(t.scratch, 'registries.json');
      fs.writeFileSync(conf, JSON.stringify({ mirrors: { 'docker.io': ['http://127.0.0.1:5999'] }, insecure: ['myreg:5000'] }));
      const withConf = tsrunOk(t.root, ['info'], { env: { TSRUN_REGISTRIES_CONF: conf } });
      assert.match(withConf, /^ {2}myreg:5000$/m);
      assert.match(withConf, /^ Registry Mirrors:\n {2}http:\/\/127\.0\.0\.1:5999\/$/m);
    } finally {
      tsrun(t.root, ['rm', '-f', run, 'made']);
    }
  });

  it('info/version: a bad template is one line, exit 1, nothing on stdout', () => {
    for (const args of [['info', '--format', '{{.Nope}}'], ['version', '--format', '{{.Client.Nope'], ['info', '--format', '{{nofunc .}}']]) {
      const r = tsrun(t.root, args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^tsrun: template parsing error: /);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    assert.match(tsrun(t.root, ['info', '--format', '{{.Nope}}']).stderr, /can't evaluate field Nope in type system\.Info/);
  });

  it('version: client facts (Node, libseccomp, git commit, OS/Arch); .Server is the client for scripts', () => {
    const text = ok(['version']);
    assert.match(text, /^Client: tsrun\n Version: +0\.1\.0\n/);
    assert.ok(text.includes(` Node version:      ${process.version}\n`));
    assert.match(text, /^ libseccomp: +\d+\.\d+\.\d+$/m);
    assert.match(text, /^ Git commit: +[0-9a-f]{7,}$/m);
    assert.match(text, /^ OS\/Arch: +linux\/(amd64|arm64)$/m);
    assert.equal(ok(['version', '--format', '{{.Client.Version}} {{.Server.Version}} {{.Client.Os}}']), '0.1.0 0.1.0 linux\n');
    const j = JSON.parse(ok(['version', '--format', 'json'])) as { Client: { NodeVersion: string; LibseccompVersion: string } };
    assert.equal(j.Client.NodeVersion, process.version);
    assert.match(j.Client.LibseccompVersion, /^\d+\.\d+\.\d+$/);
  });

  it('system df: docker rows; the writable layer counts, reclaimable for stopped ones; -v lists each; --format', () => {
    const up = ok(['run', '-d', '--name', 'dfup', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /big; exec sleep 300']).trim();
    ok(['run', '--name', 'dfdone', 'busybox', 'sh', '-c', 'head -c 50000 /dev/zero > /half']);
    try {
      // the file is made before head writes it: wait for all of it (the sizes below count it)
      const big = path.join(t.root, 'containers', up, 'upper', 'big');
      for (const end = Date.now() + 60_000; !(fs.existsSync(big) && fs.statSync(big).size === 100000) && Date.now() < end; ) spawnWait(50);
      assert.equal(fs.statSync(big).size, 100000, 'the running container wrote its file');
      const lines = ok(['system', 'df']).trimEnd().split('\n');
      assert.match(lines[0]!, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
      assert.match(lines[1]!, /^Images +1 +1 +[\d.]+MB +0B \(0%\)$/);
      assert.match(lines[2]!, /^Containers +2 +1 +150kB +50kB \(33%\)$/);
      assert.match(lines[3]!, /^Local Volumes +0 +0 +0B +0B$/);
      assert.match(lines[4]!, /^Build Cache +0 +0 +0B +0B$/);
      const json = ok(['system', 'df', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      assert.deepEqual(json[1], { Active: '1', Reclaimable: '50kB (33%)', Size: '150kB', TotalCount: '2', Type: 'Containers' });
      assert.equal(ok(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']), 'Images=1\nContainers=2\nLocal Volumes=0\nBuild Cache=0\n');
      const v = ok(['system', 'df', '-v']);
      assert.match(v, /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\nbusybox +latest +[0-9a-f]{12} .* 2\n/);
      assert.match(v, /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/);
      assert.match(v, /^[0-9a-f]{12} +busybox +"sh -c head -c 50000…" +0 +50kB +.* Exited \(0\) .* dfdone$/m);
      assert.match(v, /\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\n\nBuild cache usage: 0B\n\nCACHE ID +CACHE TYPE/);
      const bad = tsrun(t.root, ['system', 'df', '--format', '{{.Nope}}']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^tsrun: template parsing error: .*diskUsageContext/);
    } finally {
      tsrun(t.root, ['rm', '-f', 'dfup', 'dfdone']);
    }
  });

  it('system df and system prune -a count and free the build cache', () => {
    const ctxDir = path.join(t.scratch, 'bctx');
    fs.mkdirSync(ctxDir, { recursive: true });
    fs.writeFileSync(path.join(ctxDir, 'Dockerfile'), 'FROM busybox\nRUN head -c 30000 /dev/zero > /x\n');
    ok(['build', '-q', '--network', 'none', '-t', 'cached:1', ctxDir]);
    ok(['rmi', 'cached:1']); // the step's layer is now the cache's alone
    const row = () => ok(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Size}} {{.Reclaimable}}']).split('\n').find((l) => l.startsWith('Build Cache'))!;
    const m = /^Build Cache (\d+) ([\d.]+)kB ([\d.]+)kB$/.exec(row());
    assert.ok(m && Number(m[1]) >= 1 && Number(m[2]) >= 30, row());
    assert.match(ok(['system', 'df', '-v']), /\nBuild cache usage: [\d.]+kB\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n[0-9a-f]{12} +regular +/);
    const out = ok(['system', 'prune', '-a', '-f']);
    assert.match(out, /\nDeleted build cache objects:\n[0-9a-f]{64}\n/);
    assert.equal(row(), 'Build Cache 0 0B 0B');
    importBusybox(t.root); // -a took it too: no container used it
  });

  it('container prune: stopped ones go (full IDs, reclaimed space), running stay; until= and label= filters', () => {
    ok(['run', '-d', '--name', 'keepup', 'busybox', 'sleep', '300']);
    const old = ok(['create', '--name', 'old', '--label', 'tier=web', 'busybox', 'true']).trim();
    ok(['run', '--name', 'web', '--label', 'tier=web', 'busybox', 'sh', '-c', 'head -c 2000 /dev/zero > /f']);
    const web = ok(['inspect', '-f', '{{.Id}}', 'web']).trim();
    ok(['create', '--name', 'db', '--label', 'tier=db', 'busybox', 'true']);
    try {
      // nothing is older than an hour
      assert.equal(ok(['container', 'prune', '-f', '--filter', 'until=1h']), 'Total reclaimed space: 0B\n');
      assert.deepEqual(psNames(), ['db', 'keepup', 'old', 'web']);
      const out = ok(['container', 'prune', '-f', '--filter', 'label=tier=web']);
      const deleted = out.split('\n').slice(1, 3).sort();
      assert.match(out, /^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n\nTotal reclaimed space: 2kB\n$/);
      assert.deepEqual(deleted, [old, web].sort());
      assert.deepEqual(psNames(), ['db', 'keepup']);
      assert.match(ok(['container', 'prune', '-f', '--filter', 'label!=tier=db']), /^Total reclaimed space: 0B\n$/);
      // no -f and no "y" on stdin: nothing removed
      const ask = tsrun(t.root, ['container', 'prune'], { input: 'n\n' });
      assert.equal(ask.code, 0);
      assert.match(ask.stderr, /WARNING! This will remove all stopped containers\.\nAre you sure you want to continue\? \[y\/N\] /);
      assert.deepEqual(psNames(), ['db', 'keepup']);
      assert.match(ok(['container', 'prune'], 'y\n'), /^Deleted Containers:\n[0-9a-f]{64}\n\n/);
      assert.deepEqual(psNames(), ['keepup']);
    } finally {
      tsrun(t.root, ['rm', '-f', 'keepup', 'old', 'web', 'db']);
    }
  });

  it('prune: a bad filter is one line, exit 1, and the store is unchanged', () => {
    ok(['create', '--name', 'stays', 'busybox', 'true']);
    try {
      const before = snapshotTree(t.root);
      for (const [args, msg] of [
        [['container', 'prune', '-f', '--filter', 'foo=bar'], /^tsrun: invalid filter 'foo'/],
        [['container', 'prune', '-f', '--filter', 'until=soon'], /^tsrun: failed to parse value as time or duration: "soon"/],
        [['system', 'prune', '-f', '--filter', 'nofilter'], /^tsrun: bad format of filter \(expected name=value\)/],
      ] as const) {
        const r = tsrun(t.root, [...args]);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split('\n').length, 1);
        assert.equal(r.stdout, '');
      }
      assert.deepEqual(snapshotTree(t.root), before);
    } finally {
      tsrun(t.root, ['rm', '-f', 'stays']);
    }
  });

  it('network ls --format: docker fields, table headers, json, .Label; a bad template fails', () => {
    ok(['network', 'create', '--label', 'com.example.tier=db', '--internal', 'fmt-net']);
    try {
      assert.match(ok(['network', 'ls']), /^NETWORK ID +NAME +DRIVER +SCOPE\n/);
      const line = ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Label "com.example.tier"}}']).split('\n').find((l) => l.startsWith('fmt-net'));
      assert.equal(line, 'fmt-net bridge local true db');
      assert.match(ok(['network', 'ls', '--format', 'table {{.Name}}\t{{.Labels}}']), /^NAME +LABELS\n/);
      const j = ok(['network', 'ls', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      assert.deepEqual(Object.keys(j[0]!), ['CreatedAt', 'Driver', 'ID', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']);
      assert.match(ok(['network', 'inspect', '-f', '{{.Name}} {{.Internal}} {{range .IPAM.Config}}{{.Subnet}}{{end}}', 'fmt-net']), /^fmt-net true \d+\.\d+\.\d+\.\d+\/\d+\n$/);
      const bad = tsrun(t.root, ['network', 'ls', '--format', '{{.Nope}}']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^tsrun: template parsing error: .*networkContext\n$/);
    } finally {
      tsrun(t.root, ['network', 'rm', 'fmt-net']);
    }
  });

  it('system prune: stopped containers, unused networks, dangling images; -a every unused image; a used image stays', () => {
    ok(['import', busyboxTar(), 'spare:1']);
    ok(['import', '-c', 'CMD ["true"]', busyboxTar(), 'dangling:1']);
    ok(['tag', 'busybox', 'dangling:1']); // moves the tag: the other image is left untagged (dangling)
    ok(['network', 'create', 'unused-net']);
    ok(['run', '-d', '--name', 'sp-up', 'busybox', 'sleep', '300']);
    ok(['create', '--name', 'sp-made', 'busybox', 'true']);
    try {
      const warn = tsrun(t.root, ['system', 'prune'], { input: '\n' });
      assert.match(warn.stderr, /^WARNING! This will remove:\n {2}- all stopped containers\n {2}- all networks not used by at least one container\n {2}- all dangling images\n {2}- unused build cache\n/);
      assert.deepEqual(psNames(), ['sp-made', 'sp-up'], 'no answer: nothing removed');
      const out = ok(['system', 'prune', '-f']);
      assert.match(out, /^Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Networks:\nunused-net\n\nDeleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: /);
      assert.deepEqual(psNames(), ['sp-up']);
      const images = () => ok(['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter(Boolean).sort();
      assert.deepEqual(images(), ['busybox:latest', 'dangling:1', 'spare:1']);
      assert.ok(!ok(['network', 'ls']).includes('unused-net'));
      // -a: every image no container uses; busybox (used by sp-up, tagged dangling:1 too) stays
      const all = ok(['system', 'prune', '-a', '-f']);
      assert.match(all, /Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n/);
      assert.deepEqual(images(), ['busybox:latest', 'dangling:1']);
      assert.match(ok(['system', 'prune', '-f', '--volumes']), /^Total reclaimed space: 0B\n$/);
    } finally {
      tsrun(t.root, ['rm', '-f', 'sp-up', 'sp-made']);
      tsrun(t.root, ['rmi', 'spare:1']);
      tsrun(t.root, ['network', 'rm', 'unused-net']);
    }
  });
});

function spawnWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
