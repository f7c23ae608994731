/**
 * tsrun's entry point: argv → one command module → exit code.
 * The only place that decides exit codes (with util/errors.ts exitCodeFor):
 * docker's 125 for flag errors and for run/create failing before the
 * container starts, 1 for any other failed command, an error's own explicit
 * code, or the number a command returns (a container's status).
 *
 * For start-up speed only the module of the command being run is imported;
 * `tsrun --help` imports them all.
 */
import { Command, CommanderError } from 'commander';
import { TsrunError, EXIT, exitCodeFor, isTsrunError } from '../util/errors.js';
import { findSubcommand, normalizeBoolFlags } from './argv.js';
import { unsupportedDockerFlag } from './docker-flags.js';
import { mark } from '../util/trace.js';

/** command name → module under ./commands/ (each exports `register(program)`). */
const COMMANDS: Record<string, string> = {
  // images
  import: 'import',
  load: 'load',
  save: 'save',
  images: 'images',
  tag: 'tag',
  rmi: 'rmi',
  image: 'image',
  history: 'history',
  inspect: 'inspect',
  // registries
  pull: 'pull',
  push: 'push',
  login: 'login',
  logout: 'logout',
  // containers
  run: 'run',
  create: 'create',
  start: 'start',
  attach: 'attach',
  ps: 'ps',
  stop: 'stop',
  kill: 'kill',
  restart: 'restart',
  wait: 'wait',
  rm: 'rm',
  logs: 'logs',
  exec: 'exec',
  export: 'export',
  rename: 'rename',
  top: 'top',
  cp: 'cp',
  pause: 'pause',
  unpause: 'unpause',
  update: 'update',
  container: 'container',
  commit: 'commit',
  diff: 'diff',
  build: 'build',
  builder: 'builder',
  port: 'port',
  network: 'network',
  stats: 'stats',
  info: 'info',
  version: 'version',
  system: 'system',
  'container-prune': 'container-prune',
  healthcheck: 'healthcheck',
  // run by a container's monitor (restart policies), not by users
  '__on-exit': 'on-exit',
  volume: 'volume',
};

export type Register = (program: Command) => void;

function buildProgram(): Command {
  const program = new Command('tsrun')
    .description('A daemonless container runtime: run, commit, save and push OCI images')
    .version('0.1.0', '-v, --version')
    .option('--root <dir>', 'store directory (env TSRUN_ROOT)', process.env.TSRUN_ROOT ?? '/var/lib/tsrun')
    .option('--debug', 'print stack traces and debug output')
    .option('--cgroup-manager <manager>', 'cgroupfs (the only one tsrun has)', 'cgroupfs')
    .enablePositionalOptions()
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {} /* errors are printed once, below */ });
  return program;
}

/** The first argv word that is not a global option or its value. */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--root' || a === '--cgroup-manager') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}

async function registerCommands(program: Command, names: string[]): Promise<void> {
  for (const name of names) {
    const file = COMMANDS[name];
    if (!file) continue;
    try {
      const mod = (await import(`./commands/${file}.js`)) as { register: Register };
      mod.register(program);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`commands/${file}.js`)) continue; // not written yet
      throw err;
    }
  }
}

/** Where a failure happened: while the command line was parsed (flag errors), and in which command. */
interface Where {
  parsing: boolean;
  command: string;
  /** The innermost command argv names (for docker's argument-count message). */
  cmd?: Command;
  /** How a re-entered verb was typed (`container ls` runs `ps`): its path in messages. */
  via?: string;
}

async function printError(err: unknown, debug: boolean, where: Where): Promise<number> {
  if (err instanceof CommanderError) {
    // `tsrun image` alone: commander's help as an error (swallowed by writeErr); docker prints the group's usage to stdout, exit 0
    if (err.code === 'commander.help' && err.exitCode !== 0 && where.cmd) process.stdout.write(where.cmd.helpInformation());
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
    // a wrong number of arguments is cobra's Args check in docker/cli: a plain error, exit 1 (not a flag error's 125)
    if ((err.code === 'commander.missingArgument' || err.code === 'commander.excessArguments') && where.cmd) {
      const { argCountMessage } = await import('./arg-count.js');
      process.stderr.write(`tsrun: ${argCountMessage(where.cmd, where.via)}\n`);
      return EXIT.FAILURE;
    }
    // `tsrun image bogus`: docker's "unknown command: docker image bogus", exit 1
    if (err.code === 'commander.unknownCommand' && where.cmd) {
      const { commandPath } = await import('./arg-count.js');
      const path = commandPath(where.cmd, where.via);
      const word = /'([^']+)'/.exec(err.message)?.[1] ?? '';
      process.stderr.write(`tsrun: unknown command: ${path} ${word}\n\nSee '${path} --help' for more information\n`);
      return EXIT.FAILURE;
    }
    let msg = err.message.replace(/^error: /, '');
    if (err.code === 'commander.unknownOption') {
      const flag = /'([^']+)'/.exec(msg)?.[1];
      const unsupported = flag ? unsupportedDockerFlag(where.command, flag) : undefined;
      if (unsupported) msg = unsupported;
    }
    process.stderr.write(`tsrun: ${msg}; see 'tsrun ${where.command ? `${where.command} ` : ''}--help'\n`);
    return EXIT.RUNTIME;
  }
  if (isTsrunError(err)) {
    process.stderr.write(`tsrun: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err, where);
  }
  const e = err as Error;
  process.stderr.write(`tsrun: ${e?.message?.split('\n')[0] ?? String(err)}\n`);
  if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
  return exitCodeFor(err, where);
}

/** `via`: the words a group's subcommand was typed as (`container ls`), when it re-enters main as its top-level verb. */
export async function main(argv: string[], via?: string): Promise<number> {
  mark('main');
  const program = buildProgram();
  const name = commandName(argv);
  const debug = argv.includes('--debug');
  const where: Where = { parsing: true, command: name ?? '', via };
  try {
    // docker: `tsrun` alone and `tsrun help` print the usage (exit 0); `tsrun help CMD` is `tsrun CMD --help`
    if (name === 'help' || (!name && !argv.some((a) => /^(-h|--help|-v|--version)$/.test(a)))) {
      const topic = name ? argv.slice(argv.indexOf('help') + 1).find((a) => !a.startsWith('-')) : undefined;
      if (topic) {
        if (!COMMANDS[topic] || topic === 'container-prune') throw new TsrunError('USAGE', `unknown help topic: ${topic}`, { hint: "see 'tsrun --help'", exitCode: EXIT.FAILURE });
        const globals = argv.slice(0, argv.indexOf('help'));
        return await main([...globals, ...argv.slice(argv.indexOf('help') + 1), '--help']);
      }
      await registerCommands(program, Object.keys(COMMANDS));
      process.stdout.write(program.helpInformation());
      return EXIT.OK;
    }
    if (name && COMMANDS[name]) await registerCommands(program, [name]);
    else await registerCommands(program, Object.keys(COMMANDS));
    if (name && !COMMANDS[name]) throw new TsrunError('USAGE', `unknown command: tsrun ${name}`, { hint: "see 'tsrun --help'", exitCode: EXIT.FAILURE });
    // `container run` is run, `image ls` is ls: the innermost command decides
    where.cmd = findSubcommand(program, argv)?.cmd;
    where.command = where.cmd?.name() ?? where.command;
    // but `network create`/`volume create` is not create: its failures are docker's exit 1, not run/create's 125
    if ((name === 'network' || name === 'volume') && where.command !== name) where.command = `${name} ${where.command}`;
    let code: number = EXIT.OK;
    program.hook('preAction', () => {
      where.parsing = false;
      const manager = program.opts().cgroupManager as string;
      if (manager !== 'cgroupfs') {
        throw new TsrunError('UNSUPPORTED', `--cgroup-manager ${manager} is not supported by tsrun: it manages cgroups through cgroupfs only`, { hint: 'omit the flag or pass --cgroup-manager cgroupfs' });
      }
    });
    program.hook('postAction', (_t, action) => {
      const r = (action as Command & { _tsrunResult?: number })._tsrunResult;
      if (typeof r === 'number') code = r;
    });
    mark('commands registered');
    await program.parseAsync(normalizeBoolFlags(program, argv), { from: 'user' });
    return code;
  } catch (err) {
    return await printError(err, debug, where);
  }
}

const isEntry = process.argv[1] && /(?:bin\/tsrun|cli\/main\.js)$/.test(process.argv[1]);
/**
 * Commands whose work is all done when main returns: a foreground `run`'s container output went
 * through its monitor, not through Node. They exit at once instead of letting Node tear down V8's
 * heap and wait for its worker threads (~2 ms of every run), unless Node still holds output of
 * theirs (a pipe is written asynchronously: process.exit would cut it).
 */
const EXIT_AT_ONCE = new Set(['run']);

/**
 * process.stdout and process.stderr are made by Node on first access (for a pipe that loads
 * node:net and its streams, ~2 ms): the exit check above must not be that first access, so it
 * looks only at the streams something has touched.
 */
const touchedStdio: ('stdout' | 'stderr')[] = [];
for (const name of ['stdout', 'stderr'] as const) {
  const d = Object.getOwnPropertyDescriptor(process, name);
  if (!d?.get || !d.configurable) continue;
  const get = d.get;
  Object.defineProperty(process, name, {
    ...d,
    get() {
      if (!touchedStdio.includes(name)) touchedStdio.push(name);
      return get.call(process);
    },
  });
}

if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      const name = commandName(process.argv.slice(2));
      if (name && EXIT_AT_ONCE.has(name) && touchedStdio.every((n) => !process[n].writableLength)) process.exit(code);
    },
    async (err) => {
      process.exitCode = await printError(err, process.argv.includes('--debug'), { parsing: false, command: '' });
    },
  );
}
