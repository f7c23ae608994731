/**
 * `inspect NAME…`: a container first, else an image (docker's order), as a
 * JSON array. An unknown name exits 1 like docker, after printing what was found.
 */
import type { Command } from 'commander';
import { action, ctxOf } from '../common.js';
import { renderInspect } from '../format.js';
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

export function register(program: Command): void {
  program
    .command('inspect')
    .description('Return low-level information on containers or images')
    .argument('<name...>', 'container or image name or ID')
    .option('--type <type>', 'only look for this type: container or image')
    .option('-f, --format <template>', "format the output using a Go template ({{.State.Status}}, {{json .Config}}) or 'json'")
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
        if (opts.format && opts.format !== 'json') {
          process.stdout.write(renderInspect(opts.format, found));
        } else {
          process.stdout.write(JSON.stringify(found, null, 4) + '\n');
        }
        if (missing !== undefined) {
          throw new TsrunError('NOT_FOUND', `No such object: ${missing}`, { hint: 'see `tsrun ps -a` and `tsrun images`', exitCode: 1 });
        }
      }),
    );
}
