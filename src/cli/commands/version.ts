/**
 * `tsrun version [--format TEMPLATE|json]`: docker's client block. tsrun has
 * no daemon, so there is no Server block; `.Server` in a template holds the
 * same facts as `.Client` (podman's local `version` does the same), so
 * `{{.Server.Version}}` in a docker script gets tsrun's version.
 */
import type { Command } from 'commander';
import { action } from '../common.js';
import { goStructOf, renderObject } from '../format-object.js';
import { GoStruct } from '../../util/template/index.js';
import type { VersionInfo } from '../../ops/version-info.js';

export function versionText(v: VersionInfo): string {
  const row = (k: string, val: string) => ` ${`${k}:`.padEnd(19)}${val}`;
  return `${[
    `Client: ${v.Platform.Name}`,
    row('Version', v.Version),
    row('Node version', v.NodeVersion),
    row('libseccomp', v.LibseccompVersion),
    row('OCI spec', v.OciSpecVersion),
    row('Git commit', v.GitCommit),
    row('Built', v.BuildTime || 'unknown'),
    row('OS/Arch', `${v.Os}/${v.Arch}`),
    row('Context', 'default'),
  ].join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('version')
    .description('Show the tsrun version information')
    .option('-f, --format <format>', "format the output using a Go template ({{.Client.Version}}) or 'json'")
    .action(
      action(async (opts: { format?: string }) => {
        const { versionInfo } = await import('../../ops/version-info.js');
        const v = versionInfo();
        if (!opts.format) return void process.stdout.write(versionText(v));
        const client = goStructOf('command.clientVersion', v);
        process.stdout.write(renderObject(opts.format, new GoStruct('command.versionInfo', { Client: client, Server: client })));
      }),
    );
}
