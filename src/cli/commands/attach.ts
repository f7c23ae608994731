import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';

export function register(program: Command): void {
  program
    .command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<container>', 'CONTAINER (name or ID)')
    .option('--no-stdin', 'do not attach STDIN')
    .option('--sig-proxy', 'proxy all received signals to the process (default; --sig-proxy=false to turn off)', true)
    .option('--no-sig-proxy', 'do not proxy signals (same as --sig-proxy=false)')
    .option('--detach-keys <keys>', 'override the key sequence for detaching a container (default ctrl-p,ctrl-q)')
    .action(
      action(async (ref: string, opts: { stdin: boolean; sigProxy: boolean; detachKeys?: string }, cmd: Command) => {
        const [{ attachContainer }, { detachKeysFor }] = await Promise.all([import('../../ops/attach.js'), import('../detach-keys.js')]);
        const keys = detachKeysFor(opts.detachKeys);
        const r = await attachContainer(ctxOf(cmd), ref, { noStdin: !opts.stdin, sigProxy: opts.sigProxy, keys });
        if (r !== 'detached') return r;
        // docker's client: the escape sequence ends `attach` with this line and status 1
        process.stderr.write('read escape sequence\n');
        return 1;
      }),
    );
}
