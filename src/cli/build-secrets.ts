/**
 * `build --secret id=X,src=FILE | id=X,env=VAR` (buildx's forms, also type=file|env and
 * source=): the values, read once here and handed to the build by id. A bare `id=X` takes
 * the environment variable X, else the file X, as buildx does.
 */
import fs from 'node:fs';
import { TsrunError, usageError } from '../util/errors.js';

export function readSecrets(specs: readonly string[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const spec of specs) {
    const f: Record<string, string> = {};
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw usageError(`invalid --secret ${JSON.stringify(spec)}: ${JSON.stringify(part)} is not key=value`, 'use --secret id=NAME,src=FILE or id=NAME,env=VAR');
      const k = part.slice(0, eq).toLowerCase();
      if (!['id', 'src', 'source', 'env', 'type'].includes(k)) throw usageError(`invalid --secret ${JSON.stringify(spec)}: unexpected key ${JSON.stringify(k)}`, 'keys are id, src (source), env, type');
      f[k === 'source' ? 'src' : k] = part.slice(eq + 1);
    }
    if (f.type !== undefined && f.type !== 'file' && f.type !== 'env') throw usageError(`invalid --secret ${JSON.stringify(spec)}: type must be file or env`);
    const id = f.id ?? f.src ?? f.env;
    if (!id) throw usageError(`invalid --secret ${JSON.stringify(spec)}: no id`, 'use --secret id=NAME,src=FILE');
    let src: string | undefined = f.src;
    let env: string | undefined = f.env;
    if (f.type === 'env' && src !== undefined && env === undefined) [env, src] = [src, undefined];
    if (src === undefined && env === undefined) {
      if (f.type !== 'file' && process.env[id] !== undefined) env = id;
      else src = id;
    }
    if (env !== undefined) {
      const v = process.env[env];
      if (v === undefined) throw new TsrunError('USAGE', `--secret ${id}: environment variable ${env} is not set`, { hint: 'export it, or give src=FILE' });
      out.set(id, Buffer.from(v));
    } else {
      try {
        out.set(id, fs.readFileSync(src!));
      } catch (err) {
        throw new TsrunError('USAGE', `--secret ${id}: cannot read ${src}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'give a readable file with src=' });
      }
    }
  }
  return out;
}
