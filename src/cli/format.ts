/**
 * `--format` as docker's formatter does it, for every listing command:
 *   (none) or "table"  the command's default table
 *   "json"             {{json .}}, one object per line
 *   "table TEMPLATE"   a header row (the template run over the field → header map
 *                      with docker's HeaderFunctions), then a row per item, aligned
 *                      by Go's tabwriter (minwidth 10, padding 3)
 *   TEMPLATE           one line per item
 * Literal \t and \n in the format become tabs and newlines. Rows are buffered, so a
 * failing template prints nothing: one line "template parsing error: …", exit 1.
 *
 * A command adds the flag with formatOption() and prints with writeFormatted().
 */
import type { Command } from 'commander';
import { Template, TemplateError, goTyped, method } from '../util/template/index.js';
import { TsrunError, isTsrunError } from '../util/errors.js';
import { printJson } from './common.js';
import { tabwrite } from '../util/tabwriter.js';

export function formatOption(cmd: Command, what = 'pretty-print using a Go template'): Command {
  return cmd.option('--format <format>', `'table' (default), 'table TEMPLATE', 'json', or a Go template: ${what}`);
}

/** docker's error for a bad template, on stderr with exit code 1. */
export function templateError(err: unknown): TsrunError {
  return new TsrunError('USAGE', `template parsing error: ${(err as Error).message}`, { exitCode: 1 });
}

export function parseTemplate(text: string): Template {
  try {
    return Template.parse(text);
  } catch (e) {
    if (e instanceof TemplateError) throw templateError(e);
    throw e;
  }
}

/** Run a template, turning its error into docker's. */
export function runTemplate(t: Template, data: unknown, opts: Parameters<Template['execute']>[1] = {}): string {
  try {
    return t.execute(data, opts);
  } catch (e) {
    if (e instanceof TemplateError) throw templateError(e);
    throw e;
  }
}

/** docker's SubHeaderContext: the header names, plus .Label "a.b-c" → "b c". */
function headerContext(header: Record<string, string>): Record<string, unknown> {
  return {
    ...header,
    Label: method(['string'], (name: string) => name.split('.').pop()!.replace(/[-_]/g, ' ')),
  };
}

export interface FormatSpec {
  /** docker's default table, e.g. "table {{.ID}}\t{{.Names}}". */
  defaultTable: string;
  /** field name → header text ("ID" → "CONTAINER ID"). */
  header: Record<string, string>;
}

/** Render rows (GoStructs or maps) by --format and write them to stdout. */
export function writeFormatted(format: string | undefined, rows: unknown[], spec: FormatSpec): void {
  process.stdout.write(renderFormatted(format, rows, spec));
}

export function renderFormatted(format: string | undefined, rows: unknown[], spec: FormatSpec): string {
  let f = !format || format === 'table' ? spec.defaultTable : format === 'json' ? '{{json .}}' : format;
  const table = f.startsWith('table');
  if (table) f = f.slice('table'.length);
  f = f.replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const t = parseTemplate(f);
  let body = '';
  for (const r of rows) body += `${runTemplate(t, r)}\n`;
  if (!table) return body;
  const head = t.executeHeader(headerContext(spec.header));
  return tabwrite(`${head}\n${body}`, 10, 3);
}


/**
 * Keys whose objects are Go maps in docker's inspect types: a missing key
 * reads "<no value>" ({{.Config.Labels.nope}}), as docker's inspect prints.
 */
const INSPECT_MAPS = new Set(['Labels', 'Volumes', 'ExposedPorts', 'Annotations', 'Options', 'DriverOpts', 'Networks', 'Ports', 'Sysctls', 'StorageOpt', 'Tmpfs', 'Data']);

/**
 * `inspect -f TEMPLATE`: one line per object, as docker's TemplateInspector
 * (no \t replacement there). A missing top-level field is an error, as in
 * docker (`map has no entry for key "Nope"`, its raw-JSON fallback's message);
 * below the top, where docker's typed structs have fields this JSON may leave
 * out (zero values there), a missing key reads "<no value>" rather than
 * failing a script.
 */
export function renderInspect(format: string, items: unknown[]): string {
  const t = parseTemplate(format);
  let out = '';
  for (const item of items) out += `${runTemplate(t, goTyped(JSON.parse(JSON.stringify(item)), INSPECT_MAPS, true), { missingKey: 'error' })}\n`;
  return out;
}

/**
 * docker's `inspect` of several objects: each one found is printed (`[]` when none), as JSON or
 * through `format`; the ones that fail are returned (tsrun errors only: any other is thrown at once)
 * for the caller to throw the one docker would name after the output.
 */
export function printInspected(refs: string[], inspect: (ref: string) => unknown, format: string | undefined): unknown[] {
  const found: unknown[] = [];
  const failures: unknown[] = [];
  for (const ref of refs) {
    try {
      found.push(inspect(ref));
    } catch (err) {
      if (!isTsrunError(err)) throw err;
      failures.push(err);
    }
  }
  if (format && format !== 'json') process.stdout.write(renderInspect(format, found));
  else printJson(found);
  return failures;
}
