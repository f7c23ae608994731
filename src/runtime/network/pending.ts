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
 * an earlier boot is dropped without netavark. Every netavark call, the job's
 * included, holds the one host-wide netavark lock, so a teardown and a setup
 * never interleave.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../../context.js';
import { writeJsonReplace, readJsonIfExists } from '../../util/atomic.js';
import { bootId, leaseFile, pendingRecordPath, releaseIps } from './ipam.js';
import { findNetavark, netavarkTeardown, NETAVARK_LOCK, type Netavark } from './netavark.js';
import { removeNetns } from './netns.js';
import { networksDir } from './store.js';
import type { NetworkState } from './attach.js';
import type { TsrunError } from '../../util/errors.js';

/** A record whose job should long have finished (teardown takes ~0.1 s). */
const STALE_MS = 30_000;

export interface PendingTeardown {
  id: string;
  state: NetworkState;
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
 * The job, as a shell script (no second Node start-up): $1 netavark lock,
 * $2 netavark, $3 config dir, $4 aardvark-dns or "", $5 namespace file,
 * $6 netavark's input, $7 networks lock, $8 container ID, $9 the record, then
 * the lease files. Leases are given back under the networks lock and only
 * while they still name this container, as releaseIps does.
 */
const JOB = `
L=$1 NV=$2 CFG=$3 AV=$4 NS=$5 IN=$6 NL=$7 ID=$8 REC=$9
shift 9
if [ -n "$AV" ]; then
  flock -x -o "$L" "$NV" --config "$CFG" --aardvark-binary "$AV" teardown "$NS" < "$IN"
else
  flock -x -o "$L" "$NV" --config "$CFG" teardown "$NS" < "$IN"
fi > /dev/null 2>&1
umount -l "$NS" 2> /dev/null
rm -f "$NS"
flock -x "$NL" sh -c 'id=$1; shift; for f; do [ "$(head -n1 "$f" 2> /dev/null)" = "$id" ] && rm -f "$f"; done' sh "$ID" "$@"
rm -f "$IN" "$REC"
`;

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
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rec = recordPath(ctx, id);
  const input = path.join(dir, `${id}.in`);
  fs.writeFileSync(input, JSON.stringify(state.options), { mode: 0o600 });
  writeJsonReplace(rec, { id, state } satisfies PendingTeardown);
  fs.rmSync(statePath, { force: true });
  const leases = state.leases.map((l) => leaseFile(ctx, l));
  const cp = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
  try {
    const child = cp.spawn(
      'sh',
      ['-c', JOB, 'sh', NETAVARK_LOCK, nv.netavark, state.configDir, nv.aardvark ?? '', state.netns, input, path.join(networksDir(ctx), 'lock'), id, rec, ...leases],
      { detached: true, stdio: 'ignore', env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    child.unref();
    return true;
  } catch {
    // no job: put the record back where the caller's own teardown finds it
    fs.renameSync(rec, statePath);
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
  const err = nv && fs.existsSync(s.netns) && s.options.network_info ? netavarkTeardown(nv, s.configDir, s.netns, s.options) : undefined;
  removeNetns(s.netns);
  return err;
}

/** Do a pending record's teardown here and now (its job died, or someone needs what it holds at once). */
function settle(ctx: Ctx, p: PendingTeardown): void {
  const s = p.state;
  undoNamespace(s);
  releaseIps(ctx, p.id, s.leases);
  fs.rmSync(path.join(pendingDir(ctx), `${p.id}.in`), { force: true });
  fs.rmSync(recordPath(ctx, p.id), { force: true });
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Settle the pending records `which` selects: wait up to `waitMs` for their
 * jobs, then do what is left here. Records older than STALE_MS are settled
 * whatever `which` says (their jobs are gone). Synchronous (callers are):
 * in the common case it is one readdir of an empty directory.
 */
export function settlePending(ctx: Ctx, which: (p: PendingTeardown) => boolean, waitMs = 5000): void {
  const now = Date.now();
  const mine: PendingTeardown[] = [];
  for (const p of pendingTeardowns(ctx)) {
    let age = 0;
    try {
      age = now - fs.statSync(recordPath(ctx, p.id)).mtimeMs;
    } catch {
      continue; // its job just finished
    }
    if (age > STALE_MS || p.state.bootId !== bootId()) settle(ctx, p);
    else if (which(p)) mine.push(p);
  }
  const end = Date.now() + waitMs;
  for (const p of mine) {
    while (isPending(ctx, p.id) && Date.now() < end) Atomics.wait(sleeper, 0, 0, 10);
    if (isPending(ctx, p.id)) settle(ctx, p);
  }
}

/** Networks a pending record is attached to. */
export function pendingNetworks(p: PendingTeardown): string[] {
  return Object.keys((p.state.options.network_info as Record<string, unknown> | undefined) ?? {});
}
