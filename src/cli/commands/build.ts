import fs from 'node:fs';
import type { Command } from 'commander';
import { action, collect, ctxCreating } from '../common.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { flagError, usageError } from '../../util/errors.js';
import type { Platform } from '../../oci/types.js';
import type { BuildOptions } from '../../ops/build/executor.js';
import { parseReference } from '../../oci/reference.js';
import { buildTtyProgress } from '../build-progress.js';

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
  ssh: string[];
  pull?: boolean;
  platform?: string;
  format: string;
  timestamp?: string;
}

/** GOARCH values (go tool dist list, linux): a platform outside them is refused before anything is built. */
const KNOWN_ARCHES = new Set(['386', 'amd64', 'arm', 'arm64', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'ppc64', 'ppc64le', 'riscv64', 's390x']);

/**
 * --platform A[,B…]: each normalised (aarch64 = arm64 …), linux and a known architecture;
 * a platform given twice counts once, as buildx's platformutil.Dedupe.
 */
async function parseBuildPlatforms(p: string): Promise<Platform[]> {
  const list = p.split(',').map((x) => x.trim());
  if (list.some((x) => x === '')) throw usageError(`invalid --platform ${JSON.stringify(p)}: an empty platform`, 'give os/arch[/variant],… e.g. linux/amd64,linux/arm64');
  const { parsePlatform, formatPlatform } = await import('../../oci/platform.js');
  const out = new Map<string, Platform>();
  for (const x of list) {
    const platform = parsePlatform(x);
    if (platform.os !== 'linux') throw usageError(`--platform ${x}: tsrun builds linux images only`, 'use linux/ARCH, e.g. linux/arm64');
    if (!KNOWN_ARCHES.has(platform.architecture)) throw usageError(`--platform ${x}: unknown architecture ${JSON.stringify(platform.architecture)}`, `use one of ${[...KNOWN_ARCHES].join(', ')}`);
    out.set(formatPlatform(platform), platform);
  }
  return [...out.values()];
}

function parseTimestamp(v: string | undefined): number | undefined {
  const t = v ?? process.env.SOURCE_DATE_EPOCH;
  if (t === undefined || t === '') return undefined;
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw usageError(`invalid --timestamp ${JSON.stringify(t)}: seconds since the epoch`, 'e.g. --timestamp 0 or --timestamp $(git log -1 --format=%ct)');
  return Number(t);
}

/*
 * Exit codes, as docker's CLI: 125 for what it rejects while parsing its flags (an unknown flag
 * or a missing value: commander's errors; -t, --build-arg and --label, whose values docker's
 * flag types check: validateTag, ValidateEnv, ValidateLabel), 1 for the rest (values its builder
 * rejects once the build has started, such as --network, --progress, an unsupported --platform;
 * a wrong number of arguments, as cli.ExactArgs; the context; the Dockerfile), a failing RUN's own
 * status, 130 for Ctrl-C.
 */

/** -t: a name to tag with (no digest), checked as docker's validateTag does, before anything is built. */
function checkTag(t: string): void {
  let digestOnly = false;
  try {
    const r = parseReference(t);
    digestOnly = !!r.digest && !r.tag;
  } catch (err) {
    throw flagError(`invalid argument ${JSON.stringify(t)} for "-t, --tag" flag: ${(err as Error).message}`, 'use NAME[:TAG], e.g. myapp:v1.2');
  }
  if (digestOnly) throw flagError(`invalid argument ${JSON.stringify(t)} for "-t, --tag" flag: a digest reference; a tag is needed here`, 'use NAME[:TAG], e.g. myapp:v1.2');
}

function keyValues(list: string[], what: string, fromEnv: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of list) {
    const eq = kv.indexOf('=');
    // docker's ValidateEnv (--build-arg) and ValidateLabel (--label, leading blanks ignored, no blank inside)
    const name = eq < 0 ? kv : kv.slice(0, eq);
    if ((what === '--label' ? name.trimStart() : name) === '') throw flagError(`invalid argument ${JSON.stringify(kv)} for "${what}" flag: the name is empty`, `use ${what} NAME=VALUE`);
    if (what === '--label' && /\s/.test(name.trimStart())) throw flagError(`invalid argument ${JSON.stringify(kv)} for "--label" flag: the name contains whitespace`, 'use --label NAME=VALUE');
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
    .argument('<context>', 'the build context directory, or - for a tar (or a Dockerfile alone) on stdin')
    .option('-t, --tag <name>', 'NAME[:TAG] for the image (repeatable)', collect, [])
    .option('-f, --file <file>', 'the Dockerfile (default CONTEXT/Dockerfile); - reads it from stdin')
    .option('--build-arg <arg>', 'K=V, or K to take it from the environment (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage (and only the stages it needs)')
    .option('--no-cache', 'run every step, use no cached step')
    .option('--label <label>', 'K=V label on the image (repeatable)', collect, [])
    .option('--iidfile <file>', 'write the image ID to the file')
    .option('-q, --quiet', 'print only the image ID')
    .option('--network <mode>', 'network of RUN steps: default (the bridge, as run), none or host', 'default')
    .option('--progress <mode>', 'auto (tty on a terminal, else plain), plain, tty or quiet', 'auto')
    .option('--pull', 'ask the registry for every base image, even one in the store')
    .option('--platform <platforms>', "the target platform(s), e.g. linux/arm64 or linux/amd64,linux/arm64 (an image index); default this machine's; another architecture's RUN steps run emulated (binfmt_misc + qemu-user-static)")
    .option('--format <format>', 'image format: oci or docker', 'oci')
    .option('--timestamp <secs>', 'set every created time to SECS and clamp file mtimes to it (reproducible builds; default $SOURCE_DATE_EPOCH)')
    .option('--secret <spec>', 'id=ID,src=FILE or id=ID,env=VAR: a secret for RUN --mount=type=secret (repeatable)', collect, [])
    .option('--ssh <spec>', 'default|ID[=SOCKET|KEYFILE[,KEYFILE...]]: an ssh agent for RUN --mount=type=ssh (default $SSH_AUTH_SOCK; repeatable)', collect, [])
    .action(
      action(async (context: string, o: Opts, cmd: Command) => {
        // the flag errors (exit 125) first, as docker finds them while parsing, before any other check
        for (const t of o.tag) checkTag(t);
        const buildArgs = keyValues(o.buildArg, '--build-arg', true);
        const labels = Object.fromEntries(keyValues(o.label, '--label', false));
        if (!['default', 'none', 'host'].includes(o.network)) throw usageError(`invalid --network ${JSON.stringify(o.network)}`, 'use default, none or host');
        if (!['plain', 'quiet', 'auto', 'tty'].includes(o.progress)) throw usageError(`invalid --progress ${JSON.stringify(o.progress)}`, 'use auto, plain, tty or quiet');
        if (o.format !== 'oci' && o.format !== 'docker') throw usageError(`invalid --format ${JSON.stringify(o.format)}`, 'use oci or docker');
        const platforms = o.platform === undefined ? undefined : await parseBuildPlatforms(o.platform);
        const platform = platforms?.length === 1 ? platforms[0] : undefined;
        const timestamp = parseTimestamp(o.timestamp);
        if (context === '-' && o.file === '-') throw usageError("invalid argument: can't use stdin for both build context and dockerfile", 'give the context as a directory, or the Dockerfile inside the tar');
        const quiet = !!o.quiet || o.progress === 'quiet';
        const { readSecrets } = await import('../build-secrets.js');
        const secrets = readSecrets(o.secret);
        const { parseSshSpecs, SshAgents } = await import('../../ops/build/ssh-agents.js');
        const sshSpecs = parseSshSpecs(o.ssh);
        const tty = !quiet && (o.progress === 'tty' || (o.progress === 'auto' && !!process.stderr.isTTY));
        const ctx = ctxCreating(cmd);
        const { buildImage } = await import('../../ops/build/executor.js');
        const { contextFromStdin, readAll } = await import('../../ops/build/stdin-context.js');
        // a context made here (a tar from stdin, a git checkout) lives in a temp dir until the build ends;
        // a git URL that is also a local path is the local path, as buildx decides
        const { isGitContext, gitContext } = await import('../../ops/build/git-source.js');
        const isGit = context !== '-' && isGitContext(context) && !fs.existsSync(context);
        // the agents first: `--ssh default` also authenticates the git context's ssh fetch
        const ssh = sshSpecs.size ? new SshAgents(ctx, sshSpecs) : undefined;
        await ssh?.start();
        let tempCtx: { dir: string; dockerfileText?: string; cleanup(): void } | undefined;
        try {
          const access = ssh?.has('default') ? { sshAgent: await ssh.socketFor('default') } : {};
          tempCtx = context === '-' ? await contextFromStdin(ctx, process.stdin) : isGit ? await gitContext(ctx, context, access) : undefined;
        } catch (e) {
          ssh?.close();
          throw e;
        }
        const dockerfileText = o.file === '-' ? await readAll(process.stdin) : tempCtx?.dockerfileText;
        const progress = tty ? buildTtyProgress(process.stderr) : undefined;
        const opts: BuildOptions = {
          contextDir: tempCtx?.dir ?? context,
          file: o.file === '-' ? undefined : o.file,
          fileInContext: !!tempCtx && tempCtx.dockerfileText === undefined,
          dockerfileText,
          pull: !!o.pull,
          timestamp,
          format: o.format,
          buildArgs,
          target: o.target,
          noCache: !o.cache,
          labels,
          tags: o.tag,
          network: o.network as 'default' | 'none' | 'host',
          quiet,
          secrets,
          ssh,
          platform,
          log: quiet ? () => {} : progress ? progress.line : (line) => process.stderr.write(line + '\n'),
        };
        const several = platforms && platforms.length > 1 ? platforms : undefined;
        const r = await (several ? import('../../ops/build/multi-platform.js').then((m) => m.buildPlatforms(ctx, opts, several)) : buildImage(ctx, opts)).finally(() => {
          progress?.end();
          ssh?.close();
          tempCtx?.cleanup();
        });
        if (o.iidfile) writeFileAtomic(o.iidfile, r.id);
        if (quiet) process.stdout.write(r.id + '\n');
      }),
    );
}
