/**
 * text/template's parse tree (Go's text/template/parse/node.go): the node types the parser
 * builds and the executor walks, the error both raise, and the nodes' String() forms that
 * their error messages quote.
 */

export interface Pipe {
  t: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: string[];
  cmds: Cmd[];
}
export interface Cmd {
  pos: number;
  args: Arg[];
}
export type Arg =
  | { t: 'field'; pos: number; ident: string[] }
  | { t: 'variable'; pos: number; ident: string[] }
  | { t: 'chain'; pos: number; node: Arg; field: string[] }
  | { t: 'identifier'; pos: number; name: string }
  | { t: 'dot'; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'bool'; pos: number; val: boolean }
  | { t: 'number'; pos: number; text: string; val: bigint | number }
  | { t: 'string'; pos: number; quoted: string; text: string }
  | Pipe;
export type Node =
  | { t: 'text'; pos: number; text: string }
  | { t: 'action'; pos: number; pipe: Pipe }
  | { t: 'if' | 'with' | 'range'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { t: 'break' | 'continue'; pos: number }
  | { t: 'template'; pos: number; name: string; pipe?: Pipe };

export class TemplateError extends Error {
  /** What an execution had written before it failed (Go's writer keeps it). */
  partial = '';
}

export interface Parsed {
  root: Node[];
  /** {{define}}d and {{block}} templates by name. */
  defs: Map<string, Node[]>;
  text: string;
  name: string;
}

/** A node as Go's String() prints it (error messages quote it). */
export function argString(a: Arg): string {
  switch (a.t) {
    case 'field':
      return a.ident.map((x) => `.${x}`).join('');
    case 'variable':
      return a.ident.join('.');
    case 'chain':
      return `${a.node.t === 'pipe' ? `(${argString(a.node)})` : argString(a.node)}${a.field.map((x) => `.${x}`).join('')}`;
    case 'identifier':
      return a.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.val);
    case 'number':
      return a.text;
    case 'string':
      return a.quoted;
    case 'pipe':
      return pipeString(a);
  }
}

export function cmdString(c: Cmd): string {
  return c.args.map((a) => (a.t === 'pipe' ? `(${argString(a)})` : argString(a))).join(' ');
}

export function pipeString(p: Pipe): string {
  const decl = p.decl.length ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map(cmdString).join(' | ');
}
