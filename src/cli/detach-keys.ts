/**
 * Detach keys in docker's syntax (moby/term's ToBytes): a comma-separated list
 * of keys, each a single character or `ctrl-X` for X in a-z @ [ \ ] ^ _
 * (case-sensitive, as docker's), or `DEL`. `--detach-keys` wins over
 * `detachKeys` in docker's config.json ($DOCKER_CONFIG or ~/.docker); the
 * default is ctrl-p,ctrl-q. A bad value is docker's daemon error: "Invalid
 * detach keys" from attach/run/start, "Invalid escape keys" from exec (its
 * ContainerExecCreate words it so).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsrunError } from '../util/errors.js';

export const DEFAULT_DETACH_KEYS = [16, 17];

const CTRL = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

export type KeysNoun = 'detach' | 'escape';

export function parseDetachKeys(spec: string, noun: KeysNoun = 'detach'): number[] {
  const codes: number[] = [];
  for (const key of spec.split(',')) {
    // one byte as docker counts (a UTF-8 character of more bytes is not one), ctrl-X, or DEL
    if (Buffer.byteLength(key) === 1) codes.push(key.charCodeAt(0));
    else if (key === 'DEL') codes.push(127);
    else if (key.length === 6 && key.startsWith('ctrl-') && CTRL.includes(key[5]!)) codes.push(CTRL.indexOf(key[5]!));
    else {
      throw new TsrunError('USAGE', `Invalid ${noun} keys (${spec}) provided`, {
        hint: 'a comma-separated list of single characters, ctrl-a … ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or DEL',
      });
    }
  }
  if (codes.length > 32) throw new TsrunError('USAGE', `Invalid ${noun} keys (${spec}) provided`, { hint: 'at most 32 keys' });
  return codes;
}

/** docker's config.json detachKeys, or undefined (no file, no key). */
function configDetachKeys(): string | undefined {
  const dir = process.env.DOCKER_CONFIG || path.join(process.env.HOME || '/root', '.docker');
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = (JSON.parse(text) as { detachKeys?: unknown }).detachKeys;
    return typeof v === 'string' && v !== '' ? v : undefined;
  } catch {
    throw new TsrunError('USAGE', `${file} is not valid JSON`, { hint: 'fix or remove it' });
  }
}

/** The detach keys to use: the flag's, else config.json's, else ctrl-p,ctrl-q. */
export function detachKeysFor(flag: string | undefined, noun: KeysNoun = 'detach'): number[] {
  const spec = flag || configDetachKeys();
  return spec ? parseDetachKeys(spec, noun) : DEFAULT_DETACH_KEYS;
}
