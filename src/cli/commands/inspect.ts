/**
 * `inspect NAME…`: a container first, else an image (docker's order), as a
 * JSON array. An unknown name exits 1 like docker, after printing what was found.
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import type { Ctx } from '../../context.js';
import { findContainer } from '../../containers/record.js';
import { inspectContainer } from '../../ops/container-inspect.js';
import { TsrunError, isTsrunError, usageError } from '../../util/errors.js';

type ImageInspect = (ctx: Ctx, ref: string) => unknown;

async function loadImageInspect(): Promise<ImageInspect | undefined> {
  try {
    const mod = (await import('../../ops/image-inspect.js' as string)) as { inspectImage?: ImageInspect };
    return mod.inspectImage;
  } catch {
    return undefined; // not built yet: images are simply not found
  }
}

function isNotFound(err: unknown): boolean {
  return isTsrunError(err) && (err.code === 'NOT_FOUND' || err.code === 'INVALID_REFERENCE');
}

/** Value at a dotted path like .State.Pid */
function lookup(value: unknown, dotted: string): unknown {
  let v = value;
  for (const k of dotted.split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'object') return Array.isArray(v) ? `[${v.map(show).join(' ')}]` : `map[${Object.entries(v).map(([k, x]) => `${k}:${show(x)}`).join(' ')}]`;
  return String(v);
}

/** A Go-template subset: {{.A.B}}, {{json .A}}, {{json .}}. */
function renderFormat(tpl: string, obj: unknown): string {
  return tpl
    .replace(/\{\{\s*json\s+(\.[\w.]*)\s*\}\}/g, (_m, p: string) => JSON.stringify(p === '.' ? obj : lookup(obj, p)) ?? 'null')
    .replace(/\{\{\s*(\.[\w.]*)\s*\}\}/g, (_m, p: string) => show(p === '.' ? obj : lookup(obj, p)));
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('Return low-level information on containers or images')
    .argument('<name...>', 'container or image name or ID')
    .option('--type <type>', 'only look for this type: container or image')
    .option('-f, --format <template>', 'format the output using a Go template subset ({{.State.Status}}, {{json .Config}})')
    .action(
      action(async (names: string[], opts: { type?: string; format?: string }, cmd: Command) => {
        if (opts.type && opts.type !== 'container' && opts.type !== 'image') throw usageError(`invalid --type ${JSON.stringify(opts.type)}`, 'use container or image');
        const ctx = ctxOf(cmd);
        const found: unknown[] = [];
        let missing: string | undefined;
        let imageInspect: ImageInspect | undefined;
        for (const name of names) {
          let hit: unknown;
          if (opts.type !== 'image') {
            try {
              hit = inspectContainer(ctx, findContainer(ctx, name));
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
          }
          if (hit === undefined && opts.type !== 'container') {
            imageInspect ??= await loadImageInspect();
            if (imageInspect) {
              try {
                hit = await imageInspect(ctx, name);
              } catch (err) {
                if (!isNotFound(err)) throw err;
              }
            }
          }
          if (hit === undefined) missing ??= name;
          else found.push(hit);
        }
        if (opts.format) {
          for (const f of found) process.stdout.write(renderFormat(opts.format, f) + '\n');
        } else {
          process.stdout.write(JSON.stringify(found, null, 4) + '\n');
        }
        if (missing !== undefined) {
          throw new TsrunError('NOT_FOUND', `no such object: ${missing}`, { hint: 'see `tsrun ps -a` and `tsrun images`', exitCode: 1 });
        }
      }),
    );
}
