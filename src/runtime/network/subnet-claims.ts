/**
 * Host-wide claims of the subnets tsrun picks for networks (`bridge`, and user networks made without
 * --subnet). A root's networks are its own, but their bridges and routes are the host's: two roots
 * that picked the same subnet would each put a bridge with the same gateway address on the host, and
 * traffic of one (replies de-NATed to its containers included) would be routed to the other. Host
 * routes show only the subnets whose bridges are up now, which netavark makes with a network's first
 * container and removes with its last: two test roots made at once could still pick the same one.
 *
 * So a picked subnet is claimed: a file /run/tsrun/subnets/A.B.C.D_N (made with O_EXCL) that names
 * the root and the network. A claim holds while that root still has that network with that subnet,
 * or, while the root exists and has no such record yet, for YOUNG_MS (the record is being written);
 * then whoever wants the subnet may take it over. Where /run is a tmpfs claims go with the boot, like the
 * bridges; where it is not, a claim outlives a reboot only while its root still has that network.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonIfExists } from '../../util/atomic.js';
import { parseSubnet, subnetString, type Subnet } from './ipv4.js';

const CLAIMS_DIR = '/run/tsrun/subnets';
const YOUNG_MS = 60_000;

interface Claim {
  root: string;
  name: string;
}

function claimFile(s: Subnet): string {
  return path.join(CLAIMS_DIR, subnetString(s).replace('/', '_'));
}

/** The claim in `file`; undefined while it is being written (or torn). */
function readClaim(file: string): Claim | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Claim;
  } catch {
    return undefined;
  }
}

/** Whether claim `c` at `file` (for `subnet`) still holds (see the header); a removed root's never does. */
function holds(file: string, c: Claim | undefined, subnet: string): boolean {
  let young: boolean;
  try {
    young = Date.now() - fs.statSync(file).mtimeMs < YOUNG_MS;
  } catch {
    return false;
  }
  if (!c) return young; // being written
  if (!fs.existsSync(c.root)) return false;
  try {
    const rec = readJsonIfExists<{ subnets: { subnet: string }[] }>(path.join(c.root, 'networks', `${c.name}.json`));
    if (rec) return rec.subnets.some((x) => x.subnet === subnet);
  } catch {
    /* torn: being written */
  }
  return young; // its record is being written
}

/** Subnets claimed by roots other than `root` (a root's own networks are checked against its records). */
export function claimedElsewhere(root: string): Subnet[] {
  let names: string[];
  try {
    names = fs.readdirSync(CLAIMS_DIR);
  } catch {
    return [];
  }
  const out: Subnet[] = [];
  for (const n of names) {
    const subnet = n.replace('_', '/');
    const file = path.join(CLAIMS_DIR, n);
    const c = readClaim(file); // undefined: being written (young) or torn: holds() decides
    if (c?.root === root) continue;
    try {
      if (holds(file, c, subnet)) out.push(parseSubnet(subnet));
    } catch {
      /* not a claim file */
    }
  }
  return out;
}

/** Claim `s` for network `name` of `root`; false when another claim holds it (the caller tries the next). */
export function claimSubnet(root: string, name: string, s: Subnet): boolean {
  fs.mkdirSync(CLAIMS_DIR, { recursive: true, mode: 0o755 });
  const file = claimFile(s);
  const body = JSON.stringify({ root, name } satisfies Claim);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, body, { flag: 'wx', mode: 0o644 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const c = readClaim(file);
    if (c?.root === root && c.name === name) {
      fs.utimesSync(file, new Date(), new Date());
      return true;
    }
    if (holds(file, c, subnetString(s))) return false;
    fs.rmSync(file, { force: true }); // a stale claim: taken over
  }
  return false;
}
