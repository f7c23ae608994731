/** `tsrun port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports. */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { findContainer } from '../../containers/record.js';
import { refresh } from '../../containers/status.js';
import { notFound } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('port')
    .description('List port mappings or a specific mapping for the container')
    .argument('<container>', 'CONTAINER')
    .argument('[port]', 'PRIVATE_PORT[/PROTO]')
    .action(
      action(async (ref: string, port: string | undefined, _o: unknown, cmd: Command) => {
        const { activePorts, portLines } = await import('../../runtime/network/settings.js');
        const ctx = ctxOf(cmd);
        const c = refresh(ctx, findContainer(ctx, ref));
        if (port === undefined) return void process.stdout.write(portLines(c).map((l) => l + '\n').join(''));
        const [p, proto = 'tcp'] = port.split('/');
        const hits = activePorts(c).filter((b) => String(b.containerPort) === p && b.protocol === proto);
        if (!hits.length) throw notFound(`no public port '${p}/${proto}' published for ${c.config.name}`);
        process.stdout.write(hits.map((b) => `${b.hostIp || '0.0.0.0'}:${b.hostPort}\n`).join(''));
      }),
    );
}
