/**
 * Atomic writes: data goes to a temp file in the same directory, is fsynced,
 * then renamed over the target and the directory is fsynced. A reader sees the
 * old file or the new one, never a half-written one, even after SIGKILL or a
 * power cut.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomHex } from './builtins.js';

export function tempName(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${process.pid}-${randomHex(4)}`);
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempName(target);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(target));
}

export function writeJsonAtomic(target: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', mode);
}

/**
 * Atomic but not durable: temp file + rename, no fsync. A reader, or a
 * tsrun killed mid-write (even by SIGKILL), sees the old file or the new one,
 * never a torn one; only a power cut or kernel crash can lose or tear the
 * write. Meant for container runtime state (state.json, cgroup.json, a
 * container's config.json), written several times on the hot path of every
 * `run`, where each fsync costs 2-20 ms on a busy disk: after a power cut no
 * container is running anyway and `refresh` reconciles what is left with the
 * kernel. runc writes its state.json the same way. Image, layer and content
 * metadata stay on writeJsonAtomic.
 */
export function writeJsonReplace(target: string, value: unknown, mode = 0o644, indent = 2): void {
  const tmp = tempName(target);
  try {
    fs.writeFileSync(tmp, JSON.stringify(value, null, indent) + '\n', { mode, flag: 'wx' });
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** The names in a store's directory; none when it does not exist (a store that was never made reads as empty: context.ts). */
export function readdirIfExists(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Read and parse a JSON file; undefined when it does not exist. */
export function readJsonIfExists<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}
