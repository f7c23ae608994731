/**
 * Go text/template for --format, with docker's functions: parse once, run on
 * each value. Checked case by case against Go's own text/template
 * (test/unit/template-go.test.ts renders a table of templates with both).
 *
 * Errors are TemplateError with Go's text ("template: :1: function \"x\" not
 * defined", "template: :1:2: executing \"\" at <.Nope>: …"); the CLI adds
 * docker's "template parsing error: " in front.
 */
import { execute, type ExecOptions, type TemplateFunc } from './exec.js';
import { BUILTINS, DOCKER_FUNCS, DOCKER_HEADER_FUNCS } from './funcs.js';
import { parse } from './parser.js';
import { TemplateError, type Parsed } from './tree.js';
import { typedMap } from './values.js';

export { TemplateError } from './tree.js';
export { GoStruct, method, stringSlice, typedMap, goTyped } from './values.js';
export type { TemplateFunc } from './exec.js';

export class Template {
  private constructor(
    private readonly parsed: Parsed,
    private funcs: Record<string, TemplateFunc>,
  ) {}

  /** Parse text with text/template's builtins and docker's functions (plus any extra). */
  static parse(text: string, extra: Record<string, TemplateFunc> = {}, name = ''): Template {
    const funcs = { ...BUILTINS, ...DOCKER_FUNCS, ...extra };
    return new Template(
      parse(name, text, (f) => Object.hasOwn(funcs, f)),
      funcs,
    );
  }

  execute(data: unknown, opts: ExecOptions = {}): string {
    return execute(this.parsed, this.funcs, data, opts);
  }

  /**
   * docker's table header: the same template run with HeaderFunctions over the
   * header values (a map[string]string). docker ignores the header's errors and
   * keeps what was written before one: so does this, unless strict.
   */
  executeHeader(header: Record<string, unknown>, strict = false): string {
    try {
      return execute(this.parsed, { ...this.funcs, ...DOCKER_HEADER_FUNCS }, typedMap(header));
    } catch (e) {
      if (e instanceof TemplateError && !strict) return e.partial;
      throw e;
    }
  }
}
