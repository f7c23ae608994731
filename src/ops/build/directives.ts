/**
 * Parser directives: `# syntax=…`, `# escape=…`, `# check=…` at the very top of a Dockerfile,
 * as BuildKit's DirectiveParser reads them. They must come before any instruction, comment
 * or blank line; the first line that is not one ends the directive block, and each may
 * appear once. `syntax` is recorded, never fetched: tsrun always uses its built-in frontend.
 */
import { LineError } from './errors.js';

export const DIRECTIVE_NAMES = ['syntax', 'escape', 'check'] as const;
export type DirectiveName = (typeof DIRECTIVE_NAMES)[number];

export interface Directive {
  name: DirectiveName;
  value: string;
  line: number;
}

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

export class DirectiveReader {
  private done = false;
  private readonly seen = new Set<string>();
  readonly found: Directive[] = [];
  escapeToken = '\\';

  /** Look at one physical line (newline already removed, leading space trimmed). */
  read(line: string, lineNo: number): void {
    if (this.done) return;
    if (!line.startsWith('#')) {
      this.done = true;
      return;
    }
    const m = DIRECTIVE.exec(line.slice(1).replace(/^\s+/u, ''));
    const name = m?.[1]!.toLowerCase();
    if (!m || !(DIRECTIVE_NAMES as readonly string[]).includes(name!)) {
      this.done = true;
      return;
    }
    if (this.seen.has(name!)) throw new LineError(`only one ${name} parser directive can be used`);
    this.seen.add(name!);
    const value = m[2]!;
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') throw new LineError(`invalid escape token '${value}' does not match \` or \\`);
      this.escapeToken = value;
    }
    this.found.push({ name: name as DirectiveName, value, line: lineNo });
  }
}
