/** `tsrun volume create|ls|inspect|rm|prune`: docker's volume verbs. */
import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import { action, collect, ctxCreating, ctxOf, humanSize } from '../common.js';
import { formatOption, renderInspect, writeFormatted, type FormatSpec } from '../format.js';
import { GoStruct, method } from '../../util/template/index.js';
import { TsrunError, usageError } from '../../util/errors.js';
import type { VolumeUsage } from '../../ops/volume.js';

/** KEY=VALUE (or KEY alone: empty value) flags into a map. */
function keyValues(list: string[], flag: string, needValue = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    if (eq === 0 || (needValue && eq < 0)) throw usageError(`invalid ${flag} ${JSON.stringify(l)}`, `use ${flag} KEY=VALUE`);
    out[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

export const VOLUME_FORMAT: FormatSpec = {
  defaultTable: 'table {{.Driver}}\t{{.Name}}',
  header: { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE' },
};

/** docker's *formatter.volumeContext. */
function volumeContext(u: VolumeUsage): GoStruct {
  const v = u.volume;
  const str = (f: () => string) => method([], f);
  return new GoStruct('*formatter.volumeContext', {
    Name: str(() => v.Name),
    Driver: str(() => v.Driver),
    Scope: str(() => v.Scope),
    Mountpoint: str(() => v.Mountpoint),
    Labels: str(() =>
      Object.entries(v.Labels)
        .map(([k, x]) => `${k}=${x}`)
        .join(','),
    ),
    Label: method(['string'], (name: string) => v.Labels[name] ?? ''),
    Links: str(() => 'N/A'),
    Size: str(() => 'N/A'),
  });
}

export function register(program: Command): void {
  const vol = program.command('volume').description('Manage volumes (create, ls, inspect, rm, prune)');
  vol
    .command('create')
    .description('Create a volume')
    .argument('[name]', 'VOLUME (a random name when none is given)')
    .option('--name <name>', 'the volume name')
    .option('-d, --driver <driver>', 'volume driver (only local)', 'local')
    .option('--label <k=v>', 'set metadata for a volume', collect, [])
    .option('-o, --opt <k=v>', 'set driver specific options: type, device, o', collect, [])
    .action(
      action(async (arg: string | undefined, o: { name?: string; driver: string; label: string[]; opt: string[] }, cmd: Command) => {
        if (arg !== undefined && o.name !== undefined && arg !== o.name) throw usageError(`conflicting options: either specify --name or provide positional arg, not both`);
        const { volumeCreate } = await import('../../ops/volume.js');
        const v = volumeCreate(ctxCreating(cmd), { name: arg ?? o.name, driver: o.driver, labels: keyValues(o.label, '--label'), options: keyValues(o.opt, '--opt', true) });
        process.stdout.write(`${v.Name}\n`);
      }),
    );
  const ls = vol
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only display volume names', false)
    .option('-f, --filter <filter>', 'filter output (dangling=true|false, name=, label=KEY[=VALUE], driver=)', collect, []);
  formatOption(ls, '{{.Name}} {{.Driver}} {{.Mountpoint}} {{.Label "x"}}…').action(
    action(async (o: { quiet: boolean; filter: string[]; format?: string }, cmd: Command) => {
      const { volumeList } = await import('../../ops/volume.js');
      const list = volumeList(ctxOf(cmd), o.filter);
      if (o.quiet) return void process.stdout.write(list.map((u) => `${u.volume.Name}\n`).join(''));
      writeFormatted(o.format, list.map(volumeContext), VOLUME_FORMAT);
    }),
  );
  vol
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<volume...>', 'VOLUME')
    .option('-f, --format <template>', "format the output using a Go template ({{.Mountpoint}}) or 'json'")
    .action(
      action(async (names: string[], o: { format?: string }, cmd: Command) => {
        const { inspectVolumes } = await import('../../ops/volume.js');
        const { found, missing } = inspectVolumes(ctxOf(cmd), names);
        if (o.format && o.format !== 'json') process.stdout.write(renderInspect(o.format, found));
        else process.stdout.write(JSON.stringify(found, null, 4) + '\n');
        if (missing.length) throw new TsrunError('NOT_FOUND', `No such volume: ${missing[0]}`, { hint: 'see `tsrun volume ls`', exitCode: 1 });
      }),
    );
  vol
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes (refused while a container uses one)')
    .argument('<volume...>', 'VOLUME')
    .option('-f, --force', 'do not fail on volumes that do not exist', false)
    .action(
      action(async (names: string[], o: { force: boolean }, cmd: Command) => {
        const { removeVolumes } = await import('../../ops/volume.js');
        const { removed, errors } = removeVolumes(ctxOf(cmd), names, o.force);
        process.stdout.write(removed.map((n) => `${n}\n`).join(''));
        if (errors.length > 1) for (const e of errors.slice(0, -1)) process.stderr.write(`tsrun: ${e.message}\n`);
        if (errors.length) throw errors[errors.length - 1]!;
      }),
    );
  vol
    .command('prune')
    .description('Remove unused anonymous volumes (-a: all unused volumes)')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones', false)
    .option('-f, --force', 'do not prompt for confirmation', false)
    .option('--filter <filter>', 'provide filter values (label=, label!=, all=true)', collect, [])
    .action(
      action(async (o: { all: boolean; force: boolean; filter: string[] }, cmd: Command) => {
        const { pruneVolumes, parseVolumeFilters } = await import('../../ops/volume.js');
        parseVolumeFilters(o.filter, ['label', 'label!', 'all']); // a bad filter fails before the prompt
        if (!o.force) {
          const what = o.all ? 'all local volumes not used by at least one container' : 'anonymous local volumes not used by at least one container';
          if (!(await confirm(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `))) return;
        }
        const { deleted, reclaimed } = pruneVolumes(ctxOf(cmd), { all: o.all, filters: o.filter });
        let text = '';
        if (deleted.length) text += `Deleted Volumes:\n${deleted.join('\n')}\n\n`;
        text += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
        process.stdout.write(text);
      }),
    );
}
