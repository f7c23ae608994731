import type { Command } from 'commander';
import { action, collect, ctxOf } from '../common.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { usageError } from '../../util/errors.js';

interface Opts {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  label: string[];
  iidfile?: string;
  quiet?: boolean;
  network: string;
  progress: string;
  secret: string[];
}

function keyValues(list: string[], what: string, fromEnv: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq === 0) throw usageError(`invalid ${what} ${JSON.stringify(kv)}: the name is empty`);
    if (eq < 0) {
      // docker: `--build-arg K` takes K from the environment, and is left out when it is not set
      if (!fromEnv) out.set(kv, '');
      else if (process.env[kv] !== undefined) out.set(kv, process.env[kv]!);
      continue;
    }
    out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<context>', 'the build context directory')
    .option('-t, --tag <name>', 'NAME[:TAG] for the image (repeatable)', collect, [])
    .option('-f, --file <file>', 'the Dockerfile (default CONTEXT/Dockerfile)')
    .option('--build-arg <arg>', 'K=V, or K to take it from the environment (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage (and only the stages it needs)')
    .option('--no-cache', 'run every step, use no cached step')
    .option('--label <label>', 'K=V label on the image (repeatable)', collect, [])
    .option('--iidfile <file>', 'write the image ID to the file')
    .option('-q, --quiet', 'print only the image ID')
    .option('--network <mode>', 'network of RUN steps: default (the bridge, as run), none or host', 'default')
    .option('--progress <mode>', 'plain or quiet', 'plain')
    .option('--secret <spec>', 'id=ID,src=FILE or id=ID,env=VAR: a secret for RUN --mount=type=secret (repeatable)', collect, [])
    .action(
      action(async (context: string, o: Opts, cmd: Command) => {
        if (!['default', 'none', 'host'].includes(o.network)) throw usageError(`invalid --network ${JSON.stringify(o.network)}`, 'use default, none or host');
        if (!['plain', 'quiet', 'auto'].includes(o.progress)) throw usageError(`invalid --progress ${JSON.stringify(o.progress)}`, 'use plain or quiet');
        const quiet = !!o.quiet || o.progress === 'quiet';
        const { readSecrets } = await import('../build-secrets.js');
        const secrets = readSecrets(o.secret);
        const { buildImage } = await import('../../ops/build/executor.js');
        const r = await buildImage(ctxOf(cmd), {
          contextDir: context,
          file: o.file,
          buildArgs: keyValues(o.buildArg, '--build-arg', true),
          target: o.target,
          noCache: !o.cache,
          labels: Object.fromEntries(keyValues(o.label, '--label', false)),
          tags: o.tag,
          network: o.network as 'default' | 'none' | 'host',
          quiet,
          secrets,
          log: quiet ? () => {} : (line) => process.stderr.write(line + '\n'),
        });
        if (o.iidfile) writeFileAtomic(o.iidfile, r.id);
        if (quiet) process.stdout.write(r.id + '\n');
      }),
    );
}
