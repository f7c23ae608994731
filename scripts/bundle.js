#!/usr/bin/env node
// Bundles tsc's output (dist/src/cli/main.js and everything it imports,
// commander included) with esbuild into one CommonJS file,
// dist/bundle/cli/main.cjs, which bin/tsrun loads with a V8 code cache; and
// the same with only the `run` command into dist/bundle/cli/run.cjs (below).
// Start-up then reads and compiles one file instead of resolving ~50 ES
// modules (and scanning commander's CommonJS with Node's lexer). CommonJS, not
// ESM: esbuild then keeps each lazily imported command's modules, and the Node
// built-ins they require (zlib, crypto, readline ...), lazy; an ESM bundle
// would hoist every built-in import to the top and load them all.
//
// bin/tsrun uses the bundle only while it is at least as new as tsc's output,
// so a plain `npx tsc -p .` (which rewrites every file of dist/) is always
// what runs, even with a stale bundle lying around.
//
// The bundle has the same depth below the repo as dist/src/<area>/*.js, so
// paths computed from import.meta.url (../../../bin/tsrun, build/Release) hold.
import { build } from 'esbuild';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Must match bin/tsrun's. */
const CJS_WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

/**
 * commander requires node:child_process when it loads, for executable
 * subcommands only, which tsrun does not have. Loading it (with net, streams
 * and dgram) costs ~2 ms of every command, so commander gets a stand-in that
 * requires the real module on first use.
 */
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}commander${path.sep}`) ? { path: 'child_process', namespace: 'commander-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'commander-lazy' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};

/**
 * esbuild turns each `import fs from 'node:fs'` of each module into its own
 * __toESM(require('node:fs')), which copies every export of the built-in onto
 * a fresh object: ~50 modules x ~100 exports of fs alone, ~2 ms of every
 * command plus the garbage. So tsrun's own imports of a built-in go through
 * one small ES module per built-in that requires it once and exports it as
 * `default`, plus the names some module imports from it ({ spawn } …), found
 * by scanning tsc's output. No copy at all. (Not for commander: it is
 * CommonJS and calls require() itself.)
 */
function namedImportsOfBuiltins(dir) {
  const names = new Map();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/import\s+(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*'(node:[\w/]+)'/g)) {
          const set = names.get(m[2]) ?? new Set();
          for (const n of m[1].split(',')) {
            const name = n.trim().split(/\s+as\s+/)[0].trim();
            if (name && !name.startsWith('type ')) set.add(name);
          }
          names.set(m[2], set);
        }
      }
    }
  };
  walk(dir);
  return names;
}

const builtinsOnce = {
  name: 'builtins-once',
  setup(b) {
    const src = path.join(repo, 'dist', 'src');
    const named = namedImportsOfBuiltins(src);
    b.onResolve({ filter: /^node:/ }, (args) => {
      if (args.namespace === 'builtins-once') return { path: args.path, external: true };
      if (!args.importer.startsWith(src + path.sep)) return undefined;
      return { path: args.path, namespace: 'builtins-once' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtins-once' }, (args) => {
      const lines = [`const m = require(${JSON.stringify(args.path)});`, 'export default m;'];
      for (const n of named.get(args.path) ?? []) lines.push(`export const ${n} = m.${n};`);
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

/**
 * An id of docker's default seccomp profile and of the code that compiles it
 * (a hash of their tsc output): the name under which runtime/seccomp-records.ts
 * caches the compiled records. Any change to either gives a new name.
 */
function seccompProfileId() {
  const h = crypto.createHash('sha256');
  for (const f of ['seccomp.js', 'seccomp-default.js', 'spec/seccomp.js', 'caps.js']) h.update(fs.readFileSync(path.join(repo, 'dist', 'src', 'runtime', f)));
  return h.digest('hex').slice(0, 16);
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(repo, 'dist', 'bundle', 'cli');
const tmp = `${outdir}.tmp-${process.pid}`;

// `tsrun version`'s git commit and build time (ops/version-info.ts reads it)
{
  let gitCommit = 'unknown';
  try {
    gitCommit = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || gitCommit;
  } catch {
    /* not a git checkout */
  }
  fs.writeFileSync(path.join(repo, 'dist', 'build-info.json'), `${JSON.stringify({ gitCommit, built: new Date().toISOString() })}\n`);
}

/**
 * The run bundle (run.cjs): cli/main.js with its one dynamic import of a command module
 * (`./commands/${file}.js`, which makes esbuild take every command) narrowed to commands/run.js,
 * so `tsrun run` (the measured start-up) reads and compiles what run can reach (~40% of
 * the whole) and not every other command's code. bin/tsrun loads it only for `run`.
 */
const onlyRunCommand = {
  name: 'only-run-command',
  setup(b) {
    const mainJs = path.join(repo, 'dist', 'src', 'cli', 'main.js');
    b.onLoad({ filter: /[\\/]cli[\\/]main\.js$/ }, (args) => {
      if (args.path !== mainJs) return undefined;
      const text = fs.readFileSync(mainJs, 'utf8');
      const all = 'import(`./commands/${file}.js`)';
      if (!text.includes(all)) throw new Error(`bundle: cli/main.js no longer has ${all}: update onlyRunCommand`);
      const run = "(file === 'run' ? import('./commands/run.js') : Promise.reject(new Error(`internal: the run bundle has no command ${file}`)))";
      return { contents: text.replace(all, run), loader: 'js' };
    });
  },
};

/** esbuild's options for a bundle of cli/main.js into `outfile`, with these extra plugins. */
function bundleOptions(outfile, extraPlugins) {
  return {
    entryPoints: [path.join(repo, 'dist', 'src', 'cli', 'main.js')],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // smaller to read and compile; names are kept, so stack traces (--debug) still read well
    minifyWhitespace: true,
    charset: 'ascii',
    define: { 'import.meta.url': '__tsrunImportMetaUrl', __TSRUN_SECCOMP_PROFILE_ID: JSON.stringify(seccompProfileId()) },
    // written as the CommonJS function bin/tsrun compiles, so it need not build a concatenated
    // copy of the bundle (~350 KB more of young heap: one scavenge more per command)
    banner: { js: `${CJS_WRAPPER}var __tsrunImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
    footer: { js: '\n})' },
    plugins: [lazyChildProcessForCommander, builtinsOnce, ...extraPlugins],
    // loaded from node_modules only when a proxy applies (registry/proxy.ts): not parsed by every command
    external: ['undici'],
  };
}

fs.rmSync(tmp, { recursive: true, force: true });
await build(bundleOptions(path.join(tmp, 'main.cjs'), []));
await build(bundleOptions(path.join(tmp, 'run.cjs'), [onlyRunCommand]));
// bin/tsrun decodes the bundle as latin1 (twice as fast as utf8): that is only right for ASCII.
// esbuild's charset 'ascii' escapes strings and identifiers but not regular expression literals.
for (const name of ['main.cjs', 'run.cjs']) {
  const out = fs.readFileSync(path.join(tmp, name));
  const bad = out.findIndex((b) => b > 0x7f);
  if (bad >= 0) {
    console.error(`bundle: non-ASCII byte in the output near: ${out.subarray(Math.max(0, bad - 60), bad + 20).toString()}`);
    console.error('write it as a \\u escape in the source (bin/tsrun reads the bundle as latin1)');
    process.exit(1);
  }
}
// swap the dir in whole (old code caches go with it), so a concurrent tsrun sees the old bundle or the new one
const old = `${outdir}.old-${process.pid}`;
if (fs.existsSync(outdir)) fs.renameSync(outdir, old);
fs.renameSync(tmp, outdir);
fs.rmSync(old, { recursive: true, force: true });
