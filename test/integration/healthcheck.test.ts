/**
 * Healthchecks through the real CLI: --health-* and the image's HEALTHCHECK,
 * run by the container's monitor at short intervals; ps STATUS and inspect
 * .State.Health (Status, FailingStreak, the last 5 Log entries) through the
 * transitions starting → healthy → unhealthy; the start period; a probe past
 * its timeout; `healthcheck run` (podman's verb) and its exit codes; bad input.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { importBusybox, snapshotTree, tsrun, tsrunOk, useBusyboxRoot } from '../helpers/cli.js';
import fs from 'node:fs';
import path from 'node:path';
import { until } from '../helpers/wait.js';

// registered before the root's cleanup: after hooks run in order, and this needs the store
after(() => {
  if (names.length) tsrun(root().root, ['rm', '-f', ...names]);
});

const root = useBusyboxRoot();
const names: string[] = [];

function runD(name: string, args: string[], image = 'busybox', cmd = ['sleep', '1000']): void {
  names.push(name);
  tsrunOk(root().root, ['run', '-d', '--network', 'none', '--name', name, ...args, image, ...cmd]);
}

const psStatus = (name: string) => tsrunOk(root().root, ['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}']).trim();

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

function health(name: string): Health | null {
  return JSON.parse(tsrunOk(root().root, ['inspect', '-f', '{{json .State.Health}}', name]));
}

test('starting → healthy → unhealthy at a 1 s interval: ps STATUS and inspect .State.Health as docker', async () => {
  // the test drives the check through files in a bind mount, never through time: each probe waits
  // for /ctl/go (so none can end while the test looks at "starting"), then passes while /ctl/ok exists
  const ctl = path.join(root().scratch, 'hc-ctl');
  fs.mkdirSync(ctl, { recursive: true });
  const check = 'while [ ! -e /ctl/go ]; do sleep 0.1; done; cat /ctl/ok';
  runD('hc', ['-v', `${ctl}:/ctl`, '--health-cmd', check, '--health-interval', '1s', '--health-retries', '2']);
  assert.match(psStatus('hc'), /^Up .* \(health: starting\)$/);
  assert.equal(health('hc')!.Status, 'starting');
  fs.writeFileSync(path.join(ctl, 'ok'), 'fine\n');
  fs.writeFileSync(path.join(ctl, 'go'), '');
  await until('healthy', () => psStatus('hc').endsWith('(healthy)'), 30_000);
  const h = health('hc')!;
  assert.equal(h.Status, 'healthy');
  assert.equal(h.FailingStreak, 0);
  const last = h.Log.at(-1)!;
  assert.equal(last.ExitCode, 0);
  assert.equal(last.Output, 'fine\n');
  // docker's ps --filter health=
  const id = tsrunOk(root().root, ['inspect', '-f', '{{.Id}}', 'hc']).trim().slice(0, 12);
  assert.ok(tsrunOk(root().root, ['ps', '-q', '--filter', 'health=healthy']).includes(id));
  assert.ok(!tsrunOk(root().root, ['ps', '-q', '--filter', 'health=none']).includes(id));
  assert.match(tsrun(root().root, ['ps', '--filter', 'health=fine']).stderr, /Unrecognised filter value for health: fine/);
  assert.ok(Date.parse(last.End) >= Date.parse(last.Start));
  fs.rmSync(path.join(ctl, 'ok'));
  await until('unhealthy', () => psStatus('hc').endsWith('(unhealthy)'), 30_000);
  const u = health('hc')!;
  assert.equal(u.Status, 'unhealthy');
  assert.ok(u.FailingStreak >= 2, `streak ${u.FailingStreak}`);
  assert.equal(u.Log.at(-1)!.ExitCode, 1);
  let full = null as Health | null;
  await until('a full log', () => (full = health('hc'))!.FailingStreak >= 5, 60_000);
  assert.equal(full!.Log.length, 5); // never more than the last 5
  // the check is in the config as docker keeps it (nanoseconds)
  assert.equal(tsrunOk(root().root, ['inspect', '-f', '{{json .Config.Healthcheck}}', 'hc']).trim(), `{"Interval":1000000000,"Retries":2,"StartInterval":0,"StartPeriod":0,"Test":["CMD-SHELL",${JSON.stringify(check)}],"Timeout":0}`);
  // a stopped container: unhealthy in inspect, no health in ps
  tsrunOk(root().root, ['stop', '-t', '0', 'hc']);
  assert.equal(health('hc')!.Status, 'unhealthy');
  assert.match(psStatus('hc'), /^Exited \(137\)/);
});

test('failures within --health-start-period do not count; --health-start-interval checks faster meanwhile', async () => {
  // a start period long enough for two checks at the start interval even on a slow, busy machine
  // (each check starts a tsrun and an exec): the interval (10 s) alone could not give two in it
  const periodMs = 15_000;
  runD('hc-start', ['--health-cmd', 'exit 1', '--health-interval', '10s', '--health-start-interval', '300ms', '--health-start-period', `${periodMs / 1000}s`, '--health-retries', '1']);
  const startedAt = Date.parse(tsrunOk(root().root, ['inspect', '-f', '{{.State.StartedAt}}', 'hc-start']).trim());
  const inPeriod = (e: { Start: string }) => Date.parse(e.Start) - startedAt < periodMs;
  // one reading of the record (a later one may already hold a check past the period)
  let early = null as Health | null;
  await until('two checks', () => ((early = health('hc-start'))?.Log.length ?? 0) >= 2, periodMs + 30_000);
  assert.ok(early!.Log.filter(inPeriod).length >= 2, `the checks came too late to test the start period: ${JSON.stringify(early!.Log)}`);
  assert.ok(early!.Log.every((e) => e.ExitCode === 1));
  // every failure so far began within the start period: none counted
  assert.ok(early!.Log.every(inPeriod));
  assert.equal(early!.Status, 'starting');
  assert.equal(early!.FailingStreak, 0);
  // after the start period the next failure counts, and one retry makes it unhealthy
  let late = null as Health | null;
  await until('unhealthy', () => (late = health('hc-start'))!.Status === 'unhealthy', periodMs + 60_000);
  assert.equal(late!.FailingStreak, 1);
  assert.ok(!inPeriod(late!.Log.at(-1)!), `the check that counted began after the start period: ${JSON.stringify(late!.Log)}`);
  tsrunOk(root().root, ['rm', '-f', 'hc-start']);
});

test('a probe past --health-timeout is killed and logged with exit code -1, as docker', async () => {
  // each probe notes its PID (exec: the sleep keeps it) so the test can look for the killed one
  runD('hc-timeout', ['--health-cmd', 'echo $$ >> /tmp/probes; exec sleep 1000', '--health-interval', '500ms', '--health-timeout', '300ms', '--health-retries', '1']);
  await until('unhealthy', () => health('hc-timeout')?.Status === 'unhealthy', 30_000);
  const e = health('hc-timeout')!.Log[0]!;
  assert.equal(e.ExitCode, -1);
  assert.equal(e.Output, 'Health check exceeded timeout (300ms)');
  // cut at the timeout: not before it, and not at docker's default (30 s) or the probe's own end
  const ran = Date.parse(e.End) - Date.parse(e.Start);
  assert.ok(ran >= 300 && ran < 30_000, `the probe ran ${ran} ms`);
  // the killed probe is gone from the container. The first PID noted, once a second is: probes run one
  // at a time, so that one had ended (and a probe killed on a starved machine before its echo notes nothing)
  const probes = () => tsrunOk(root().root, ['exec', 'hc-timeout', 'cat', '/tmp/probes']).trim().split('\n').filter(Boolean);
  await until('two probes noted', () => probes().length >= 2, 60_000);
  const first = probes()[0]!;
  assert.match(first, /^\d+$/);
  const top = tsrunOk(root().root, ['exec', 'hc-timeout', 'ps', '-o', 'pid,args']);
  assert.ok(!top.split('\n').some((l) => l.trim().split(/\s+/)[0] === first), `probe ${first} still runs:\n${top}`);
  tsrunOk(root().root, ['rm', '-f', 'hc-timeout']);
});

test("the image's HEALTHCHECK runs; --health-* override parts of it; --no-healthcheck turns it off", async () => {
  importBusybox(root().root, 'busybox:hc', ['-c', 'HEALTHCHECK --interval=1s --retries=1 CMD ["test", "-e", "/etc/passwd"]']);
  runD('hc-image', [], 'busybox:hc');
  await until('healthy', () => psStatus('hc-image').endsWith('(healthy)'), 30_000);
  assert.equal(tsrunOk(root().root, ['inspect', '-f', '{{json .Config.Healthcheck.Test}}', 'hc-image']).trim(), '["CMD","test","-e","/etc/passwd"]');
  runD('hc-override', ['--health-cmd', 'exit 1'], 'busybox:hc');
  await until('unhealthy', () => psStatus('hc-override').endsWith('(unhealthy)'), 30_000);
  assert.equal(tsrunOk(root().root, ['inspect', '-f', '{{.Config.Healthcheck.Interval}}', 'hc-override']).trim(), '1000000000');
  runD('hc-none', ['--no-healthcheck'], 'busybox:hc');
  assert.match(psStatus('hc-none'), /^Up [^(]*$/);
  assert.equal(health('hc-none'), null);
  assert.equal(tsrunOk(root().root, ['inspect', '-f', '{{json .Config.Healthcheck.Test}}', 'hc-none']).trim(), '["NONE"]');
  tsrunOk(root().root, ['rm', '-f', 'hc-image', 'hc-override', 'hc-none']);
});

test('healthcheck run: 0 when the check passes, 1 (and "unhealthy") when it fails, 125 without a container, a healthcheck or a running container', () => {
  // an interval long enough that only the checks run by hand count
  runD('hc-manual', ['--health-cmd', 'test -f /tmp/ok', '--health-interval', '1h', '--health-retries', '1']);
  const fail = tsrun(root().root, ['healthcheck', 'run', 'hc-manual']);
  assert.equal(fail.code, 1, fail.stderr);
  assert.equal(fail.stdout, 'unhealthy\n');
  assert.equal(health('hc-manual')!.Status, 'unhealthy');
  tsrunOk(root().root, ['exec', 'hc-manual', 'touch', '/tmp/ok']);
  const pass = tsrun(root().root, ['healthcheck', 'run', 'hc-manual']);
  assert.equal(pass.code, 0, pass.stderr);
  assert.equal(pass.stdout, '');
  assert.equal(health('hc-manual')!.Status, 'healthy');
  assert.equal(health('hc-manual')!.Log.length, 2);
  runD('hc-nocheck', []);
  const none = tsrun(root().root, ['healthcheck', 'run', 'hc-nocheck']);
  assert.equal(none.code, 125);
  assert.match(none.stderr, /has no defined healthcheck/);
  tsrunOk(root().root, ['stop', '-t', '0', 'hc-manual']);
  const stopped = tsrun(root().root, ['healthcheck', 'run', 'hc-manual']);
  assert.equal(stopped.code, 125);
  assert.match(stopped.stderr, /is not running/);
  const missing = tsrun(root().root, ['healthcheck', 'run', 'nope']);
  assert.equal(missing.code, 125); // podman's: 1 means unhealthy
  assert.match(missing.stderr, /No such container: nope/);
  tsrunOk(root().root, ['rm', '-f', 'hc-manual', 'hc-nocheck']);
});

test('bad --health-* values: one-line errors, exit 125, nothing created', () => {
  const before = snapshotTree(root().root);
  const cases: [string[], RegExp][] = [
    [['--health-interval', '1x'], /invalid argument "1x" for "--health-interval" flag: time: unknown unit/],
    [['--health-timeout', 'soon'], /invalid argument "soon" for "--health-timeout" flag/],
    [['--health-retries', 'x'], /invalid argument "x" for "--health-retries" flag/],
    [['--health-interval', '-1s', '--health-cmd', 'true'], /--health-interval cannot be negative/],
    [['--health-retries', '-1', '--health-cmd', 'true'], /--health-retries cannot be negative/],
    [['--health-interval', '10us', '--health-cmd', 'true'], /Interval in Healthcheck cannot be less than 1ms/],
    [['--no-healthcheck', '--health-cmd', 'true'], /--no-healthcheck conflicts with --health-\* options/],
  ];
  for (const [flags, msg] of cases) {
    const r = tsrun(root().root, ['run', '-d', '--network', 'none', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.deepEqual(snapshotTree(root().root), before);
});

test("a CMD-SHELL check runs through the image's SHELL (moby's getShell), else /bin/sh -c", async () => {
  const ctx = path.join(root().scratch, 'shell-ctx');
  fs.mkdirSync(ctx, { recursive: true });
  // sh -x traces each command to stderr: the check's output shows which shell ran it
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nSHELL ["/bin/sh", "-xc"]\nHEALTHCHECK --interval=1s CMD echo checked\n');
  tsrunOk(root().root, ['build', '-q', '--network', 'none', '-t', 'busybox:shell', ctx]);
  runD('hc-shell', [], 'busybox:shell');
  await until('healthy', () => psStatus('hc-shell').endsWith('(healthy)'), 30_000);
  // one pipe for both streams from the probe to the log (exec-output.test.ts): in the order written
  assert.equal(health('hc-shell')!.Log.at(-1)!.Output, '+ echo checked\nchecked\n');
  assert.equal(tsrunOk(root().root, ['inspect', '-f', '{{json .Config.Shell}}', 'hc-shell']).trim(), '["/bin/sh","-xc"]');
  // the same check without a SHELL: /bin/sh -c, no trace
  runD('hc-noshell', ['--health-cmd', 'echo checked', '--health-interval', '1s']);
  await until('healthy', () => psStatus('hc-noshell').endsWith('(healthy)'), 30_000);
  assert.equal(health('hc-noshell')!.Log.at(-1)!.Output, 'checked\n');
  tsrunOk(root().root, ['rm', '-f', 'hc-shell', 'hc-noshell']);
});
