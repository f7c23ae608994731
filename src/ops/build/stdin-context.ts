/**
 * `tsrun build -`: stdin is either the build context as a tar (plain, gzip, bzip2, xz or
 * zstd, told by its bytes) or, as docker takes it, a Dockerfile alone with an empty context.
 * The input is saved to a temp file first (it is read twice: detection, then unpacking), a
 * tar unpacked into a temp directory confined like a layer; `cleanup()` removes both.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Ctx } from '../../context.js';
import { archiveCompression, unpackArchive } from './add-archive.js';

export interface StdinContext {
  dir: string;
  /** Set when stdin was a Dockerfile, not a tar. */
  dockerfileText?: string;
  cleanup(): void;
}

export async function contextFromStdin(ctx: Ctx, input: Readable): Promise<StdinContext> {
  const base = path.join(ctx.tmpDir, `${process.pid}-stdin-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const cleanup = () => fs.rmSync(base, { recursive: true, force: true });
  try {
    const file = path.join(base, 'input');
    await pipeline(input, fs.createWriteStream(file, { mode: 0o600 }));
    const dir = path.join(base, 'context');
    fs.mkdirSync(dir, { mode: 0o755 });
    const c = fs.statSync(file).size ? await archiveCompression(file) : undefined;
    if (c === undefined) return { dir, dockerfileText: fs.readFileSync(file, 'utf8'), cleanup };
    await unpackArchive(file, c, dir);
    fs.rmSync(file);
    return { dir, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** `-f -`: the Dockerfile's text from stdin. */
export async function readAll(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
