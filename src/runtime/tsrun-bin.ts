import { fileURLToPath } from 'node:url';

/**
 * bin/tsrun, from dist/src/runtime/tsrun-bin.js (and the bundle,
 * dist/bundle/cli/main.cjs, at the same depth: keep this file there): what
 * --rm's monitor runs once a detached container exits.
 */
export const TSRUN_BIN = fileURLToPath(new URL('../../../bin/tsrun', import.meta.url));
