/**
 * Where the conformance data from BuildKit and moby lives: ../shared/build/conformance beside
 * the repository (CI keeps a copy there). Missing data is a failure, never a skip: the tests
 * that read it would otherwise pass without proving anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/unit/x.js → repo root is three levels up
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function conformanceDir(sub: string): string {
  const dir = path.resolve(repo, '..', 'shared', 'build', 'conformance', sub);
  if (!fs.existsSync(dir)) {
    throw new Error(`conformance data missing: ${dir} (copy shared/build/conformance beside the repository)`);
  }
  return dir;
}
