/**
 * Network teardown after the caller has gone. When a container ends in the
 * foreground (`run`, `run --rm`, `start -a`), undoing its network costs a
 * `netavark teardown` (~70 ms here: it spawns iptables once per rule) that
 * the user would otherwise wait for after their container has already
 * exited. The teardown record moves from the container's dir to
 * ROOT/networks/pending/ID.json (a rename: the container can then be removed
 * at once) and a detached shell job runs netavark, unmounts the namespace,
 * gives the addresses back and deletes the record, in that order.
 *
 * Nothing can leak on the way: until the record is deleted its addresses stay
 * leased (ipam.ts treats a pending container's leases as held), its host
 * ports stay taken (attach.ts counts them), and whoever needs what it holds
 * first settles it: the container's own next start (same namespace path),
 * `network rm`/`prune` of its network, and any start on the root once the
 * record is older than STALE_MS (its job died: a reboot, a kill). A record of
 * an earlier boot is dropped without netavark.
 *
 * The job and a settle are one script (TEARDOWN), run whole under the one
 * host-wide netavark lock, and it first checks that its input file (named
 * per hand-off) is still there: whoever gets the lock first does the work and
 * deletes that file, the other then does nothing. A job that waited long for
 * the lock (a loaded host) can thus never undo what came after a settle: the
 * same container's next namespace at the same path, or its new leases (which
 * carry the same container ID).
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkdirInStore, type Ctx } from '../../context.js';
import { writeJsonReplace, readJsonIfExists } from '../../util/atomic.js';
import { bootId, leaseFile, pendingRecordPath, releaseIps } from './ipam.js';
import { containerInterfaces, findNetavark, netavarkTeardown, NETAVARK_LOCK, TEARDOWN_IN, type Netavark } from './netavark.js';
import { removeNetns } from './netns.js';
import { networksDir } from './store.js';
import type { NetworkState } from './attach.js';
import type { TsrunError } from '../../util/errors.js';

/** A record whose job should long have finished (teardown takes ~0.1 s). */
const STALE_MS = 30_000;

export interface PendingTeardown {
  id: string;
  state: NetworkState;
  /** netavark's input for this hand-off (its name is this hand-off's own); records before it: ID.in */
  input?: string;
}

function pendingDir(ctx: Ctx): string {
  return path.join(networksDir(ctx), 'pending');
}

const recordPath = pendingRecordPath;

export function isPending(ctx: Ctx, id: string): boolean {
  return fs.existsSync(recordPath(ctx, id));
}

/** Every pending record (torn ones skipped: a job is writing or deleting them). */
export function pendingTeardowns(ctx: Ctx): PendingTeardown[] {
  let names: string[];
  try {
    names = fs.readdirSync(pendingDir(ctx));
  } catch {
    return [];
  }
  const out: PendingTeardown[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      const r = readJsonIfExists<PendingTeardown>(path.join(pendingDir(ctx), n));
      if (r) out.push(r);
    } catch {
      /* torn */
    }
  }
  return out;
}

/*
 * The teardown, as a shell script (no second Node start-up), run by
 * `flock -x -o LOCK` (the lock is flock's: neither netavark nor the
 * aardvark-dns it may start inherits it). $1 netavark or "" (not installed:
 * only the namespace and leases), $2 config dir, $3 aardvark-dns or "", $4
 * namespace file, $5 netavark's input, $6 networks lock, $7 container ID, $8
 * the record, $9 the container's interface names (for a stand-in namespace:
 * netavark.ts TEARDOWN_IN), then the lease files. Without its input file the work was done
 * by whoever had the lock before: nothing to do. Leases are given back under
 * the networks lock (taken inside the netavark lock, never the other way
 * round) and only while they still name this container, as releaseIps does.
 */
const TEARDOWN = `${TEARDOWN_IN}
NV=$1 CFG=$2 AV=$3 NS=$4 IN=$5 NL=$6 ID=$7 REC=$8 IFS_=$9
shift 9
[ -e "$IN" ] || exit 0
if [ -z "$NV" ]; then :
elif [ -n "$AV" ]; then
  teardown_in "$NS" "$IFS_" "$NV" --config "$CFG" --aardvark-binary "$AV" < "$IN"
else
  teardown_in "$NS" "$IFS_" "$NV" --config "$CFG" < "$IN"
fi > /dev/null 2>&1
umount -l "$NS" 2> /dev/null
rm -f "$NS"
flock -x "$NL" sh -c 'id=$1; shift; for f; do [ "$(head -n1 "$f" 2> /dev/null)" = "$id" ] && rm -f "$f"; done' sh "$ID" "$@"
rm -f "$REC"
rm -f "$IN"
`;

/** flock's argv for the teardown of `p` (netavark's own when there is one). */
function teardownArgv(ctx: Ctx, p: PendingTeardown, nv: Netavark | undefined): string[] {
  const s = p.state;
  const input = p.input ?? path.join(pendingDir(ctx), `${p.id}.in`);
  const leases = s.leases.map((l) => leaseFile(ctx, l));
  const lockFile = path.join(networksDir(ctx), 'lock');
  return ['-x', '-o', NETAVARK_LOCK, 'sh', '-c', TEARDOWN, 'sh', nv?.netavark ?? '', s.configDir, nv?.aardvark ?? '', s.netns, input, lockFile, p.id, recordPath(ctx, p.id), containerInterfaces(s.options), ...leases];
}

const SCRIPT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * Hand the teardown of an exited container's network to a detached job.
 * Returns false when there is nothing to hand off or the job could not be
 * started (the caller then tears down itself).
 */
export function handOffTeardown(ctx: Ctx, id: string, statePath: string): boolean {
  let state: NetworkState | undefined;
  try {
    state = readJsonIfExists<NetworkState>(statePath);
  } catch {
    return false;
  }
  if (!state || state.bootId !== bootId() || !state.options.network_info) return false;
  let nv: Netavark;
  try {
    nv = findNetavark();
  } catch {
    return false;
  }
  const dir = pendingDir(ctx);
  if (!mkdirInStore(ctx, dir)) return false; // the store is gone: the caller tears down itself
  fs.mkdirSync(path.dirname(NETAVARK_LOCK), { recursive: true });
  const rec = recordPath(ctx, id);
  // named per hand-off: a job outlived by a settle finds no input and does nothing (TEARDOWN)
  const input = path.join(dir, `${id}.${process.pid}-${Date.now().toString(36)}.in`);
  fs.writeFileSync(input, JSON.stringify(state.options), { mode: 0o600 });
  const p: PendingTeardown = { id, state, input };
  writeJsonReplace(rec, p);
  fs.rmSync(statePath, { force: true });
  const cp = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
  try {
    const child = cp.spawn('flock', teardownArgv(ctx, p, nv), { detached: true, stdio: 'ignore', env: SCRIPT_ENV });
    child.on('error', () => {}); // no flock: the record stays, and is settled as a dead job's
    child.unref();
    return true;
  } catch {
    // no job: put the record back where the caller's own teardown finds it
    fs.renameSync(rec, statePath);
    fs.rmSync(input, { force: true });
    return false;
  }
}

/**
 * Undo a network namespace here and now: netavark's teardown (NAT rules, veth, DNS entries) and the
 * namespace file. Only in the boot that made it: after a reboot both are gone with the kernel's state.
 * Netavark's error is returned, never thrown: nothing may keep the rest of a teardown from going.
 */
export function undoNamespace(s: NetworkState): TsrunError | undefined {
  if (s.bootId !== bootId()) return undefined;
  let nv: Netavark | undefined;
  try {
    nv = findNetavark();
  } catch {
    nv = undefined;
  }
  // a namespace file missing or not a namespace here: netavark tears down in a stand-in (TEARDOWN_IN)
  const err = nv && s.options.network_info ? netavarkTeardown(nv, s.configDir, s.netns, s.options) : undefined;
  removeNetns(s.netns);
  return err;
}

/**
 * Do a pending record's teardown here and now (its job died, or someone needs
 * what it holds at once): the job's own script, under the same lock, so this
 * waits for a job that is at work and a job still waiting finds nothing left
 * to do. A record of an earlier boot: nothing of it is left on the host.
 */
function settle(ctx: Ctx, p: PendingTeardown): void {
  const input = p.input ?? path.join(pendingDir(ctx), `${p.id}.in`);
  if (p.state.bootId === bootId()) {
    let nv: Netavark | undefined;
    try {
      nv = findNetavark();
    } catch {
      nv = undefined; // the namespace and the leases still go
    }
    fs.mkdirSync(path.dirname(NETAVARK_LOCK), { recursive: true });
    const cp = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
    const r = cp.spawnSync('flock', teardownArgv(ctx, p, nv), { stdio: 'ignore', env: SCRIPT_ENV, timeout: 120_000 });
    if (r.status === 0 && !fs.existsSync(input)) {
      // done (here or by the job); a record left without its input is one whose job died between its last two steps
      dropRecord(ctx, p);
      return;
    }
  }
  undoNamespace(p.state); // the script could not run (no flock?): as it would, without the lock's guard
  releaseIps(ctx, p.id, p.state.leases);
  fs.rmSync(input, { force: true });
  dropRecord(ctx, p);
}

/** Delete the record of `p` unless it is already another hand-off's (the same container ended again). */
function dropRecord(ctx: Ctx, p: PendingTeardown): void {
  let now: PendingTeardown | undefined;
  try {
    now = readJsonIfExists<PendingTeardown>(recordPath(ctx, p.id));
  } catch {
    return; // being written: a new hand-off's
  }
  if (now && now.input === p.input) fs.rmSync(recordPath(ctx, p.id), { force: true });
}

/**
 * Settle the pending records `which` selects: each is done by its job or
 * here, whichever gets the netavark lock first (settle); this returns once
 * it is done. Records older than STALE_MS are settled whatever `which` says
 * (their jobs are gone). Synchronous (callers are): in the common case it is
 * one readdir of an empty directory.
 */
export function settlePending(ctx: Ctx, which: (p: PendingTeardown) => boolean): void {
  const now = Date.now();
  for (const p of pendingTeardowns(ctx)) {
    let age = 0;
    try {
      age = now - fs.statSync(recordPath(ctx, p.id)).mtimeMs;
    } catch {
      continue; // its job just finished
    }
    if (age > STALE_MS || p.state.bootId !== bootId() || which(p)) settle(ctx, p);
  }
}

/** Networks a pending record is attached to. */
export function pendingNetworks(p: PendingTeardown): string[] {
  return Object.keys((p.state.options.network_info as Record<string, unknown> | undefined) ?? {});
}
