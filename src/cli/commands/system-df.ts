/**
 * `tsrun system df [-v] [--format …]`: docker's disk usage summary
 * (TYPE TOTAL ACTIVE SIZE RECLAIMABLE) with docker's formatter arithmetic
 * (cli/command/formatter/disk_usage.go):
 *   Images       SIZE = every layer once; RECLAIMABLE = SIZE − Σ(size − shared size) of the
 *                images a container uses, with "(N%)" (integer division) when SIZE > 0
 *   Containers   SIZE = Σ writable layers; RECLAIMABLE = those of containers not running/paused
 *   Local Volumes SIZE = Σ sizes; RECLAIMABLE = those no container mounts
 *   Build Cache  SIZE = Σ steps no image shares; RECLAIMABLE = that less what is in use (no %)
 * -v lists each image, container, volume and cache record below the same headings as docker.
 */
import type { Command } from 'commander';
import { goQuote } from '../../util/template/strconv.js';
import { GoStruct, method } from '../../util/template/index.js';
import { humanAgo, humanDuration } from '../common.js';
import type { Container } from '../../containers/record.js';
import { renderFormatted, type FormatSpec } from '../format.js';
import { goHumanSize, humanSizeWithPrecision } from '../../util/units.js';
import { shortId } from '../../oci/digest.js';
import { familiarName } from '../../oci/reference.js';
import { usageError } from '../../util/errors.js';
import type { DiskUsage } from '../../ops/disk-usage.js';

export const DF_FORMAT: FormatSpec = {
  defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
  header: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
};

export interface DfRow {
  type: string;
  total: number;
  active: number;
  size: number;
  reclaimable: number;
  /** docker prints "(N%)" after RECLAIMABLE for every row but the build cache's. */
  percent: boolean;
}

function withPercent(reclaimable: number, total: number, percent: boolean): string {
  const h = goHumanSize(reclaimable);
  return percent && total > 0 ? `${h} (${Math.trunc((reclaimable * 100) / total)}%)` : h;
}

/** The four rows' numbers. */
export function dfRows(du: DiskUsage): DfRow[] {
  let imagesUsed = 0;
  for (const i of du.images) if (i.containers > 0) imagesUsed += i.size - i.sharedSize;
  const ctrSize = du.containers.reduce((a, c) => a + c.sizeRw, 0);
  const ctrFree = du.containers.filter((c) => !c.active).reduce((a, c) => a + c.sizeRw, 0);
  const volSize = du.volumes.reduce((a, v) => a + (v.size > 0 ? v.size : 0), 0);
  const volFree = du.volumes.filter((v) => v.links === 0).reduce((a, v) => a + (v.size > 0 ? v.size : 0), 0);
  // docker's builder size leaves out what images share; what a running build holds is not reclaimable
  const bc = du.buildCacheTotals;
  const cacheSize = bc.size - bc.shared;
  return [
    { type: 'Images', total: du.images.length, active: du.images.filter((i) => i.containers > 0).length, size: du.layersSize, reclaimable: du.layersSize - imagesUsed, percent: true },
    { type: 'Containers', total: du.containers.length, active: du.containers.filter((c) => c.active).length, size: ctrSize, reclaimable: ctrFree, percent: true },
    { type: 'Local Volumes', total: du.volumes.length, active: du.volumes.filter((v) => v.links > 0).length, size: volSize, reclaimable: volFree, percent: true },
    { type: 'Build Cache', total: bc.count, active: bc.active, size: cacheSize, reclaimable: Math.min(bc.reclaimable, cacheSize), percent: false },
  ];
}

function rowContext(r: DfRow): GoStruct {
  const str = (f: () => string) => method([], f);
  return new GoStruct('*formatter.diskUsageContext', {
    Type: str(() => r.type),
    TotalCount: str(() => String(r.total)),
    Active: str(() => String(r.active)),
    Size: str(() => goHumanSize(r.size)),
    Reclaimable: str(() => withPercent(r.reclaimable, r.size, r.percent)),
  });
}

/** ps's STATUS column. */
function statusText(c: Container, now: number): string {
  const s = c.state;
  if (s.status === 'exited') return `Exited (${s.exitCode ?? 0}) ${humanAgo(s.finishedAt, now)}`;
  if (s.status === 'created') return 'Created';
  const up = s.startedAt ? humanDuration(Math.max(0, now - Date.parse(s.startedAt)) / 1000) : 'Less than a second';
  return `Up ${up}${s.status === 'paused' ? ' (Paused)' : ''}`;
}

const table = (header: Record<string, string>, def: string): FormatSpec => ({ defaultTable: def, header });

function verbose(du: DiskUsage, now: number): string {
  const str = (f: () => string) => method([], f);
  const images = du.images.flatMap((i) =>
    (i.rows.length ? i.rows : [{ repository: '<none>', tag: '<none>' }]).map(
      (r) =>
        new GoStruct('*formatter.imageContext', {
          Repository: str(() => (r.repository === '<none>' ? '<none>' : familiarName(r.repository))),
          Tag: str(() => r.tag),
          ID: str(() => shortId(i.id)),
          CreatedSince: str(() => humanAgo(i.created, now)),
          Size: str(() => humanSizeWithPrecision(i.size, 3)),
          SharedSize: str(() => humanSizeWithPrecision(i.sharedSize, 3)),
          UniqueSize: str(() => humanSizeWithPrecision(i.size - i.sharedSize, 3)),
          Containers: str(() => String(i.containers)),
        }),
    ),
  );
  const containers = du.containers.map(({ container: c, sizeRw }) => {
    const cmd = [c.config.path, ...c.config.args].join(' ');
    return new GoStruct('*formatter.ContainerContext', {
      ID: str(() => c.config.id.slice(0, 12)),
      Image: str(() => c.config.image || '<no image>'),
      Command: str(() => goQuote([...cmd].length > 20 ? `${[...cmd].slice(0, 19).join('')}…` : cmd)),
      LocalVolumes: str(() => '0'),
      Size: str(() => humanSizeWithPrecision(sizeRw, 3)),
      RunningFor: str(() => humanAgo(c.config.created, now)),
      Status: str(() => statusText(c, now)),
      Names: str(() => c.config.name),
    });
  });
  const volumes = du.volumes.map((v) => new GoStruct('*formatter.volumeContext', { Name: str(() => v.name), Links: str(() => String(v.links)), Size: str(() => (v.size < 0 ? 'N/A' : humanSizeWithPrecision(v.size, 3))) }));
  const cache = du.buildCache.map(
    (b) =>
      new GoStruct('*formatter.buildCacheContext', {
        ID: str(() => b.id.slice(0, 12)),
        CacheType: str(() => b.type),
        Size: str(() => humanSizeWithPrecision(b.size, 3)),
        CreatedSince: str(() => humanAgo(b.created, now)),
        LastUsedSince: str(() => (b.lastUsed ? humanAgo(b.lastUsed, now) : '')),
        UsageCount: str(() => String(b.usageCount)),
        Shared: str(() => String(b.shared)),
      }),
  );
  const cacheSize = du.buildCacheTotals.size - du.buildCacheTotals.shared;
  return [
    'Images space usage:\n\n',
    renderFormatted(undefined, images, table({ Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' }, 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}')),
    '\nContainers space usage:\n\n',
    renderFormatted(undefined, containers, table({ ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES' }, 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}')),
    '\nLocal Volumes space usage:\n\n',
    renderFormatted(undefined, volumes, table({ Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }, 'table {{.Name}}\t{{.Links}}\t{{.Size}}')),
    `\nBuild cache usage: ${goHumanSize(cacheSize)}\n\n`,
    renderFormatted(undefined, cache, table({ ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' }, 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}')),
  ].join('');
}

export function dfText(du: DiskUsage, opts: { verbose?: boolean; format?: string }): string {
  if (opts.verbose) {
    if (opts.format && opts.format !== 'table') throw usageError('--format with -v is not supported by tsrun', 'use -v alone, or --format without -v');
    return verbose(du, Date.now());
  }
  return renderFormatted(opts.format, dfRows(du).map(rowContext), DF_FORMAT);
}

export function addDfCommand(parent: Command): void {
  parent
    .command('df')
    .description('Show disk usage')
    .option('-v, --verbose', 'show detailed information on space usage')
    .option('--format <format>', "'table' (default), 'table TEMPLATE', 'json', or a Go template: {{.Type}} {{.Size}} {{.Reclaimable}}")
    .action(async (opts: { verbose?: boolean; format?: string }, cmd: Command) => {
      const { ctxOf } = await import('../common.js');
      const { diskUsage } = await import('../../ops/disk-usage.js');
      // a bad template fails before the store is walked
      if (!opts.verbose) renderFormatted(opts.format, [], DF_FORMAT);
      process.stdout.write(dfText(diskUsage(ctxOf(cmd)), opts));
    });
}
