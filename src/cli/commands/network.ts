/** `tsrun network create|ls|inspect|rm|prune|connect|disconnect`: docker's network verbs. */
import type { Command } from 'commander';
import { action, collect, ctxCreating, ctxOf, goTime } from '../common.js';
import { formatOption, printInspected, writeFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
import type { NetworkRecord } from '../../runtime/network/store.js';

/** docker's network ls columns and `--format` fields (formatter.networkContext). */
const NETWORK_FORMAT: FormatSpec = {
  defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  header: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' },
};

function networkContext(n: NetworkRecord, id: (x: string) => string): GoStruct {
  const str = (f: () => string) => method([], f);
  const labels = n.labels ?? {};
  return new GoStruct('*formatter.networkContext', {
    ID: str(() => id(n.id)),
    Name: str(() => n.name),
    Driver: str(() => n.driver),
    Scope: str(() => 'local'),
    IPv6: str(() => String(n.ipv6_enabled)),
    Internal: str(() => String(n.internal)),
    Labels: str(() =>
      Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(','),
    ),
    Label: method(['string'], (name: string) => labels[name] ?? ''),
    CreatedAt: str(() => goTime(n.created)),
  });
}

export function register(program: Command): void {
  const net = program.command('network').description('Manage networks (create, ls, inspect, rm, prune, connect, disconnect)');
  net
    .command('create')
    .description('Create a network')
    .argument('<name>', 'NETWORK')
    .option('-d, --driver <driver>', 'driver to manage the network', 'bridge')
    .option('--subnet <cidr>', 'subnet in CIDR format')
    .option('--gateway <ip>', 'IPv4 gateway for the subnet')
    .option('--internal', 'restrict external access to the network', false)
    .option('--label <k=v>', 'set metadata on a network', collect, [])
    .action(
      action(async (name: string, o: { driver: string; subnet?: string; gateway?: string; internal: boolean; label: string[] }, cmd: Command) => {
        const { createNetwork } = await import('../../ops/network.js');
        const labels = Object.fromEntries(o.label.map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])));
        const n = createNetwork(ctxCreating(cmd), name, { driver: o.driver, subnet: o.subnet, gateway: o.gateway, internal: o.internal, labels });
        process.stdout.write(`${n.id}\n`);
      }),
    );
  const ls = net
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only display network IDs', false)
    .option('--no-trunc', 'do not truncate the output');
  formatOption(ls, '{{.ID}} {{.Name}} {{.Driver}} {{.Label "x"}}…').action(
    action(async (o: { quiet: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      const { networkList } = await import('../../ops/network.js');
      const nets = networkList(ctxOf(cmd));
      const id = (x: string) => (o.trunc === false ? x : x.slice(0, 12));
      if (o.quiet) return void process.stdout.write(nets.map((n) => id(n.id) + '\n').join(''));
      writeFormatted(
        o.format,
        nets.map((n) => networkContext(n, id)),
        NETWORK_FORMAT,
      );
    }),
  );
  net
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<network...>', 'NETWORK')
    .option('-f, --format <format>', "format the output using a Go template ({{.Name}} {{.IPAM.Config}}) or 'json'")
    .action(
      action(async (refs: string[], o: { format?: string }, cmd: Command) => {
        const { inspectNetwork } = await import('../../ops/network.js');
        const ctx = ctxOf(cmd);
        // docker: the networks found are printed (`[]` when none), then the first one missing fails, exit 1
        const failures = printInspected(refs, (r) => inspectNetwork(ctx, r), o.format);
        if (failures.length) throw failures[0];
      }),
    );
  net
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<network...>', 'NETWORK')
    .action(
      action(async (refs: string[], _o: unknown, cmd: Command) => {
        const { removeNetwork } = await import('../../ops/network.js');
        const ctx = ctxOf(cmd);
        for (const r of refs) process.stdout.write(`${removeNetwork(ctx, r)}\n`);
      }),
    );
  net
    .command('prune')
    .description('Remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation', false)
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const { pruneNetworks } = await import('../../ops/network.js');
        const gone = pruneNetworks(ctxOf(cmd));
        if (gone.length) process.stdout.write(`Deleted Networks:\n${gone.join('\n')}\n`);
      }),
    );
  for (const verb of ['connect', 'disconnect'] as const) {
    net
      .command(verb)
      .description(`${verb === 'connect' ? 'Connect a (stopped) container to' : 'Disconnect a (stopped) container from'} a network`)
      .argument('<network>', 'NETWORK')
      .argument('<container>', 'CONTAINER')
      .option('-f, --force', 'force (disconnect)', false)
      .action(
        action(async (netRef: string, ref: string, _o: unknown, cmd: Command) => {
          const ops = await import('../../ops/network.js');
          (verb === 'connect' ? ops.connectNetwork : ops.disconnectNetwork)(ctxOf(cmd), netRef, ref);
        }),
      );
  }
}
