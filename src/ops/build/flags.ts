/**
 * Instruction flags (`COPY --from=x --chown=y`), checked the way BuildKit's BFlags does:
 * each instruction declares its flags; an unknown flag, a repeated single-valued flag, a
 * missing value or a non-boolean value for a boolean flag is an error. Pure.
 */
import { LineError } from './errors.js';

export type FlagType = 'bool' | 'string' | 'strings';
export type FlagSpec = Record<string, FlagType>;

export interface FlagValues {
  bools: Map<string, boolean>;
  strings: Map<string, string>;
  lists: Map<string, string[]>;
  /** Names given, in order (RUN keeps them to know which --network/--security were asked for). */
  used: string[];
}

/** Parse the `--name[=value]` words of one instruction against the flags it accepts. */
export function parseFlags(instruction: string, words: readonly string[], spec: FlagSpec): FlagValues {
  const out: FlagValues = { bools: new Map(), strings: new Map(), lists: new Map(), used: [] };
  const known = Object.keys(spec);
  for (const w of words) {
    if (!w.startsWith('--')) throw new LineError(`${instruction}: arg should start with -- : ${w}`);
    const body = w.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const type = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (!type) {
      const hint = known.length ? `${instruction} accepts ${known.map((k) => '--' + k).join(', ')}` : `${instruction} takes no flags`;
      throw new LineError(`unknown flag: --${name} for ${instruction}`, hint);
    }
    if (type !== 'strings' && out.used.includes(name)) throw new LineError(`duplicate flag specified: --${name}`);
    out.used.push(name);
    switch (type) {
      case 'bool': {
        if (value === '') throw new LineError(`missing a value on flag: --${name}`);
        const v = (value ?? 'true').toLowerCase();
        if (v !== 'true' && v !== 'false') throw new LineError(`expecting boolean value for flag --${name}, not: ${value}`);
        out.bools.set(name, v === 'true');
        break;
      }
      case 'string':
        if (value === undefined) throw new LineError(`missing a value on flag: --${name}`, `write --${name}=VALUE`);
        out.strings.set(name, value);
        break;
      case 'strings':
        if (value === undefined) throw new LineError(`missing a value on flag: --${name}`, `write --${name}=VALUE`);
        out.lists.set(name, [...(out.lists.get(name) ?? []), value]);
        break;
    }
  }
  return out;
}

/** The flags each instruction accepts (BuildKit dockerfile frontend 1.x, stable and labs-free). */
export const INSTRUCTION_FLAGS: Record<string, FlagSpec> = {
  from: { platform: 'string' },
  run: { mount: 'strings', network: 'string', security: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  add: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings', unpack: 'bool' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};
