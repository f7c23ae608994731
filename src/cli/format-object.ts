/**
 * `--format` for commands that print one object (info, version): docker's
 * "json" is `{{json .}}`, anything else a Go template run once over the
 * object, followed by a newline. Errors are format.ts's (one line, exit 1).
 */
import { parseTemplate, runTemplate } from './format.js';
import { GoStruct, goTyped } from '../util/template/index.js';

/** A plain object as a Go struct of typeName: integers are ints, nested objects maps (a missing key there is <no value>). */
export function goStructOf(typeName: string, data: object): GoStruct {
  return new GoStruct(typeName, goTyped(JSON.parse(JSON.stringify(data)), new Set(), true) as Record<string, unknown>);
}

export function renderObject(format: string, data: unknown): string {
  const t = parseTemplate(format === 'json' ? '{{json .}}' : format);
  return `${runTemplate(t, data)}\n`;
}
