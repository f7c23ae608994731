/**
 * A wrong number of arguments, said as docker's CLI says it. docker/cli checks
 * the count with cobra's Args validators (cli/required.go: NoArgs,
 * RequiresMinArgs, RequiresMaxArgs, RequiresRangeArgs, ExactArgs), which return
 * a plain error: exit 1, not the 125 of a flag error. docker 28 prints
 *
 *     docker: 'docker rm' requires at least 1 argument
 *
 *     Usage:  docker rm [OPTIONS] CONTAINER [CONTAINER...]
 *
 *     See 'docker rm --help' for more information
 *
 * tsrun derives the count from the command's declared arguments (commander's
 * <required>, [optional], variadic...), so every command gets it from one place.
 * Loaded only when a count is wrong (main.ts imports it on that error).
 */
import type { Command } from 'commander';

/** The bounds a command's declared arguments allow (max Infinity for a variadic last one). */
export function argBounds(cmd: Command): { min: number; max: number } {
  const args = cmd.registeredArguments;
  const min = args.filter((a) => a.required).length;
  const max = args.some((a) => a.variadic) ? Infinity : args.length;
  return { min, max };
}

const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;

/** docker's wording for the bounds: "accepts no arguments", "requires at least 1 argument" … */
export function countPhrase(min: number, max: number): string {
  if (max === 0) return 'accepts no arguments';
  if (min === max) return `requires ${plural(min)}`;
  if (max === Infinity) return `requires at least ${plural(min)}`;
  if (min === 0) return `requires at most ${plural(max)}`;
  return `requires at least ${min} and at most ${plural(max)}`;
}

/**
 * "tsrun system df": the command's path as typed (the root's name first). `typed`: the words a
 * group's subcommand was typed as when it re-entered main as a top-level verb (`container ls` runs `ps`).
 */
export function commandPath(cmd: Command, typed?: string): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return typed ? `${names[0]} ${typed}` : names.join(' ');
}

/** docker's usage line from commander's: `[options] <container...>` → `[OPTIONS] CONTAINER [CONTAINER...]`. */
export function dockerUsage(cmd: Command, path: string): string {
  const hasOptions = cmd.options.some((o) => o.long !== '--help');
  const args = cmd.registeredArguments.map((a) => {
    const name = a.name().toUpperCase().replace(/-/g, '_');
    if (a.variadic) return a.required ? `${name} [${name}...]` : `[${name}...]`;
    return a.required ? name : `[${name}]`;
  });
  return [path, ...(hasOptions ? ['[OPTIONS]'] : []), ...args].join(' ');
}

/** The whole message (without the leading "tsrun: "), docker's three parts. */
export function argCountMessage(cmd: Command, typed?: string): string {
  const path = commandPath(cmd, typed);
  const { min, max } = argBounds(cmd);
  return `'${path}' ${countPhrase(min, max)}\n\nUsage:  ${dockerUsage(cmd, path)}\n\nSee '${path} --help' for more information`;
}
