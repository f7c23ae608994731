/**
 * docker's credential helper protocol (github.com/docker/docker-credential-helpers): a program
 * `docker-credential-NAME` on PATH, one action per run as its argument, the request on stdin:
 *   get    stdin: the server URL          stdout: {"ServerURL","Username","Secret"}
 *   store  stdin: {"ServerURL","Username","Secret"}
 *   erase  stdin: the server URL
 *   list   stdout: {"URL": "username", …}
 * "Not found" is an exit status other than 0 with `credentials not found in native keychain` on
 * stdout; any other failure is an error naming the helper and its output, as docker prints it.
 * A Username of `<token>` means the Secret is an identity token (docker's OAuth refresh token):
 * tsrun has no OAuth flow, so it is refused with a hint rather than sent as a password.
 */
import { spawnSync } from 'node:child_process';
import { TsrunError } from '../util/errors.js';
import type { Credentials } from './credentials.js';

const NOT_FOUND = 'credentials not found in native keychain';

function run(helper: string, action: 'get' | 'store' | 'erase' | 'list', input: string): { ok: boolean; out: string } {
  const bin = `docker-credential-${helper}`;
  const r = spawnSync(bin, [action], { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 20 });
  const verb = action === 'get' ? 'getting' : action === 'store' ? 'storing' : action === 'erase' ? 'erasing' : 'listing';
  // a helper that exits without reading its stdin (EPIPE) still gave its answer
  if (r.error && !((r.error as NodeJS.ErrnoException).code === 'EPIPE' && r.status !== null)) {
    const why = (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `exec: "${bin}": executable file not found in $PATH` : r.error.message;
    throw new TsrunError('AUTH', `error ${verb} credentials - err: ${why}, out: \`\``, {
      hint: `install ${bin}, or remove "credsStore"/"credHelpers" from docker's config.json`,
    });
  }
  const out = (r.stdout ?? '').trim();
  if (r.status === 0) return { ok: true, out };
  if (out.includes(NOT_FOUND) || /not found/i.test(out)) return { ok: false, out };
  throw new TsrunError('AUTH', `error ${verb} credentials - err: exit status ${r.status}, out: \`${(out || (r.stderr ?? '').trim()).split('\n')[0]}\``, {
    hint: `check ${bin}`,
  });
}

/** The helper's credentials for serverURL, or undefined when it has none. */
export function helperGet(helper: string, serverURL: string): Credentials | undefined {
  const r = run(helper, 'get', serverURL);
  if (!r.ok) return undefined;
  let v: { Username?: unknown; Secret?: unknown };
  try {
    v = JSON.parse(r.out) as typeof v;
  } catch {
    throw new TsrunError('AUTH', `error getting credentials - docker-credential-${helper} printed no JSON`, { hint: `check docker-credential-${helper}` });
  }
  if (typeof v.Username !== 'string' || typeof v.Secret !== 'string') return undefined;
  if (!v.Username && !v.Secret) return undefined;
  if (v.Username === '<token>') {
    throw new TsrunError('UNSUPPORTED', `docker-credential-${helper} holds an identity token for ${serverURL}, which tsrun cannot use`, {
      hint: `log in with a username and password: tsrun login ${serverURL}`,
    });
  }
  return { username: v.Username, password: v.Secret };
}

export function helperStore(helper: string, serverURL: string, creds: Credentials): void {
  run(helper, 'store', JSON.stringify({ ServerURL: serverURL, Username: creds.username, Secret: creds.password }));
}

/** Erase; false when the helper had nothing for serverURL. */
export function helperErase(helper: string, serverURL: string): boolean {
  return run(helper, 'erase', serverURL).ok;
}

/** The helper's list: server URL → username. */
export function helperList(helper: string): Record<string, string> {
  const r = run(helper, 'list', '');
  if (!r.ok) return {};
  try {
    return JSON.parse(r.out || '{}') as Record<string, string>;
  } catch {
    return {};
  }
}
