/**
 * docker's (pflag's) `--flag=true|false` for boolean flags, which commander
 * does not take: `--rm=false` is dropped, `--rm=true` becomes `--rm`, before
 * commander parses (`--human=false` becomes `--no-human` where a flag that
 * defaults to true has that form). Values are Go's strconv.ParseBool's. Only the command's
 * own options are rewritten: scanning stops at `--` and, for commands that
 * pass the rest through (run, create, exec), at the first positional argument,
 * so a container command's own `--all=false` is left alone.
 */
import type { Command, Option } from 'commander';
import { usageError } from '../util/errors.js';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

const isBoolean = (o: Option): boolean => !o.required && !o.optional;

function parseBool(flag: string, v: string): boolean {
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw usageError(`invalid argument ${JSON.stringify(v)} for ${JSON.stringify(flag)} flag: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

/** The subcommand argv[start…] names, and where its own arguments begin. */
export function findSubcommand(program: Command, argv: string[]): { cmd: Command; start: number } | undefined {
  let cmd: Command = program;
  let found = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--root') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) return found ? { cmd, start: i } : undefined;
    cmd = sub;
    found = true;
    if (!sub.commands.length) return { cmd, start: i + 1 };
  }
  return found ? { cmd, start: argv.length } : undefined;
}

export function normalizeBoolFlags(program: Command, argv: string[]): string[] {
  const found = findSubcommand(program, argv);
  if (!found) return argv;
  const { cmd, start } = found;
  const passThrough = (cmd as unknown as { _passThroughOptions?: boolean })._passThroughOptions === true;
  const out = argv.slice(0, start);
  const byLong = (name: string) => cmd.options.find((o) => o.long === name);
  const byShort = (name: string) => cmd.options.find((o) => o.short === name);
  // a flag that defaults to true (history's -H) turns off through its --no- form
  const negation = (o: Option): string | undefined => {
    const no = o.long && !o.negate ? `--no-${o.long.slice(2)}` : undefined;
    return no && cmd.options.some((x) => x.long === no) ? no : undefined;
  };
  let i = start;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const opt = byLong(eq < 0 ? a : a.slice(0, eq));
      if (opt && isBoolean(opt) && eq >= 0) {
        if (parseBool(a.slice(0, eq), a.slice(eq + 1))) out.push(a.slice(0, eq));
        else if (negation(opt)) out.push(negation(opt)!);
        continue;
      }
      out.push(a);
      if (opt && !isBoolean(opt) && eq < 0 && opt.required) out.push(argv[++i]!);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      const eq = a.indexOf('=');
      const letters = a.slice(1, eq < 0 ? undefined : eq);
      const last = byShort(`-${letters[letters.length - 1]}`);
      if (eq >= 0 && last && isBoolean(last) && [...letters].every((l) => byShort(`-${l}`))) {
        const keep = parseBool(`-${letters[letters.length - 1]}`, a.slice(eq + 1));
        const rest = keep ? letters : letters.slice(0, -1);
        if (rest) out.push(`-${rest}`);
        if (!keep && negation(last)) out.push(negation(last)!);
        continue;
      }
      out.push(a);
      // a value-taking short option at the end of a cluster takes the next word
      const opt = byShort(`-${a[1]}`);
      if (a.length === 2 && opt && opt.required) out.push(argv[++i]!);
      continue;
    }
    out.push(a);
    if (passThrough) {
      i++;
      break;
    }
  }
  return [...out, ...argv.slice(i)].filter((x) => x !== undefined);
}
