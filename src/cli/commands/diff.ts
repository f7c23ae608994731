import type { Command } from 'commander';
import { action, ctxOf, printJson } from '../common.js';
import { containerDiff } from '../../ops/diff.js';
import { usageError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('diff')
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>', 'container name or ID')
    .option('--format <format>', 'json: {"changed":[…],"added":[…],"deleted":[…]} as podman prints')
    .action(
      action(async (container: string, o: { format?: string }, cmd: Command) => {
        if (o.format !== undefined && o.format !== 'json') throw usageError(`invalid --format ${JSON.stringify(o.format)}`, 'the only format is json');
        const changes = containerDiff(ctxOf(cmd), container);
        if (o.format === 'json') {
          const pick = (k: string) => changes.filter((c) => c.kind === k).map((c) => c.path);
          printJson({ changed: pick('C'), added: pick('A'), deleted: pick('D') });
          return;
        }
        if (changes.length) process.stdout.write(changes.map((c) => `${c.kind} ${c.path}`).join('\n') + '\n');
      }),
    );
}
