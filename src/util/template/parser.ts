/**
 * text/template's parser (Go's text/template/parse/parse.go): the same tree,
 * checks and messages ("function %q not defined", "unexpected EOF", "missing
 * value for command" …). Only the functions known at parse time may be called.
 */
import { lex, type Token } from './lexer.js';
import { argString, TemplateError, type Arg, type Cmd, type Node, type Parsed, type Pipe } from './tree.js';

type End = { t: 'end'; pos: number } | { t: 'else'; pos: number };

export function parse(name: string, text: string, hasFunction: (n: string) => boolean): Parsed {
  const toks = lex(text);
  let i = 0;
  let vars: string[] = ['$'];
  let rangeDepth = 0;
  const defs = new Map<string, Node[]>();
  let lastLine = 1;

  const errorf = (msg: string): never => {
    throw new TemplateError(`template: ${name}:${lastLine}: ${msg}`);
  };
  const next = (): Token => {
    const t = toks[Math.min(i, toks.length - 1)]!;
    i++;
    lastLine = t.line;
    if (t.type === 'error') errorf(t.val);
    return t;
  };
  const backup = (n = 1) => {
    i -= n;
  };
  const peek = (): Token => toks[Math.min(i, toks.length - 1)]!;
  const nextNonSpace = (): Token => {
    let t = next();
    while (t.type === 'space') t = next();
    return t;
  };
  const peekNonSpace = (): Token => {
    const t = nextNonSpace();
    backup();
    return t;
  };
  const describe = (t: Token): string => {
    if (t.type === 'eof') return 'EOF';
    if (t.type === 'keyword' || t.type === 'dot') return `<${t.val}>`;
    const q = JSON.stringify(t.val);
    return t.val.length > 10 ? `${JSON.stringify(t.val.slice(0, 10))}...` : q;
  };
  const unexpected = (t: Token, context: string): never => {
    if (t.type === 'error') errorf(t.val);
    return errorf(`unexpected ${describe(t)} in ${context}`);
  };
  const expect = (type: Token['type'], context: string): Token => {
    const t = nextNonSpace();
    if (t.type !== type) unexpected(t, context);
    return t;
  };

  function itemList(): [Node[], End] {
    const list: Node[] = [];
    while (peekNonSpace().type !== 'eof') {
      const n = textOrAction();
      if (n.t === 'end' || n.t === 'else') return [list, n as End];
      list.push(n as Node);
    }
    return errorf('unexpected EOF');
  }

  function textOrAction(): Node | End {
    const t = nextNonSpace();
    if (t.type === 'text') return { t: 'text', pos: t.pos, text: t.val };
    if (t.type === 'leftDelim') return action();
    return unexpected(t, 'input');
  }

  function action(): Node | End {
    const t = nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'block':
          return blockControl();
        case 'break':
        case 'continue':
          if (rangeDepth === 0) errorf(`{{${t.val}}} outside {{range}}`);
          expect('rightDelim', `{{${t.val}}}`);
          return { t: t.val, pos: t.pos };
        case 'else': {
          const p = peekNonSpace();
          if (p.type === 'keyword' && (p.val === 'if' || p.val === 'with')) return { t: 'else', pos: p.pos };
          expect('rightDelim', 'else');
          return { t: 'else', pos: t.pos };
        }
        case 'end':
          expect('rightDelim', 'end');
          return { t: 'end', pos: t.pos };
        case 'if':
        case 'range':
        case 'with':
          return control(t.val);
        case 'template':
          return templateControl();
        case 'define':
          return errorf('unexpected <define> in command');
      }
    }
    backup();
    return { t: 'action', pos: t.pos, pipe: pipeline('command', 'rightDelim') };
  }

  function control(context: 'if' | 'range' | 'with'): Node {
    const mark = vars.length;
    const pipe = pipeline(context, 'rightDelim');
    if (context === 'range') rangeDepth++;
    const [list, end] = itemList();
    if (context === 'range') rangeDepth--;
    let elseList: Node[] | undefined;
    if (end.t === 'else') {
      const p = peek();
      if ((context === 'if' && p.type === 'keyword' && p.val === 'if') || (context === 'with' && p.type === 'keyword' && p.val === 'with')) {
        next();
        elseList = [control(context)];
      } else {
        const [l, e] = itemList();
        if (e.t !== 'end') errorf(`expected end; found {{else}}`);
        elseList = l;
      }
    }
    vars = vars.slice(0, mark);
    return { t: context, pos: pipe.pos, pipe, list, elseList };
  }

  function templateName(context: string): string {
    const t = nextNonSpace();
    if (t.type !== 'string' && t.type !== 'rawString') unexpected(t, context);
    return unquote(t.val);
  }

  function templateControl(): Node {
    const nameTok = peekNonSpace();
    const tname = templateName('template clause');
    let pipe: Pipe | undefined;
    if (nextNonSpace().type !== 'rightDelim') {
      backup();
      pipe = pipeline('template clause', 'rightDelim');
    }
    return { t: 'template', pos: nameTok.pos, name: tname, pipe };
  }

  function blockControl(): Node {
    const nameTok = peekNonSpace();
    const tname = templateName('block clause');
    const pipe = pipeline('block clause', 'rightDelim');
    const saved = { vars, rangeDepth };
    vars = ['$'];
    rangeDepth = 0;
    const [list, end] = itemList();
    if (end.t !== 'end') errorf('unexpected {{else}} in block clause');
    ({ vars, rangeDepth } = saved);
    defs.set(tname, list);
    return { t: 'template', pos: nameTok.pos, name: tname, pipe };
  }

  function pipeline(context: string, end: 'rightDelim' | 'rightParen'): Pipe {
    const first = peekNonSpace();
    const pipe: Pipe = { t: 'pipe', pos: first.pos, isAssign: false, decl: [], cmds: [] };
    decls: for (;;) {
      const v = peekNonSpace();
      if (v.type !== 'variable') break;
      nextNonSpace();
      const afterVar = peek();
      const n = peekNonSpace();
      if (n.type === 'assign' || n.type === 'declare') {
        pipe.isAssign = n.type === 'assign';
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
      } else if (n.type === 'char' && n.val === ',') {
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = peekNonSpace();
          if (p.type === 'variable' || p.type === 'rightDelim' || p.type === 'rightParen') continue decls;
          errorf('range can only initialize variables');
        }
        errorf(`too many declarations in ${context}`);
      } else if (afterVar.type === 'space') {
        backup(2);
      } else {
        backup();
      }
      break;
    }
    for (;;) {
      const t = nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) errorf(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, k) => {
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.t)) errorf(`non executable command in pipeline stage ${k + 2}`);
        });
        return pipe;
      }
      switch (t.type) {
        case 'bool':
        case 'charConstant':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          backup();
          pipe.cmds.push(command());
          break;
        default:
          unexpected(t, context);
      }
    }
  }

  function command(): Cmd {
    const cmd: Cmd = { pos: peekNonSpace().pos, args: [] };
    for (;;) {
      peekNonSpace();
      const op = operand();
      if (op) cmd.args.push(op);
      const t = next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') backup();
      else if (t.type !== 'pipe') unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) errorf('empty command');
    return cmd;
  }

  function operand(): Arg | undefined {
    const node = term();
    if (!node) return undefined;
    if (peek().type !== 'field') return node;
    const fields: string[] = [];
    const pos = peek().pos;
    while (peek().type === 'field') fields.push(next().val.slice(1));
    switch (node.t) {
      case 'field':
        return { t: 'field', pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { t: 'variable', pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return errorf(`unexpected . after term ${JSON.stringify(argString(node))}`);
      default:
        return { t: 'chain', pos, node, field: fields };
    }
  }

  function term(): Arg | undefined {
    const t = nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!hasFunction(t.val)) errorf(`function ${JSON.stringify(t.val)} not defined`);
        return { t: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { t: 'dot', pos: t.pos };
      case 'nil':
        return { t: 'nil', pos: t.pos };
      case 'variable': {
        const [head, ...rest] = t.val.split('.');
        if (!vars.includes(head!)) errorf(`undefined variable ${JSON.stringify(head)}`);
        return { t: 'variable', pos: t.pos, ident: [head!, ...rest] };
      }
      case 'field':
        return { t: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        return { t: 'bool', pos: t.pos, val: t.val === 'true' };
      case 'charConstant':
      case 'number':
        return { t: 'number', pos: t.pos, text: t.val, val: numberValue(t.val, t.type === 'charConstant', errorf) };
      case 'leftParen':
        return pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { t: 'string', pos: t.pos, quoted: t.val, text: unquote(t.val, errorf) };
    }
    backup();
    return undefined;
  }

  // top level: text, actions and {{define}}s
  const root: Node[] = [];
  while (peek().type !== 'eof') {
    if (peek().type === 'leftDelim') {
      next();
      const t = nextNonSpace();
      if (t.type === 'keyword' && t.val === 'define') {
        const dname = templateName('define clause');
        expect('rightDelim', 'define clause');
        const saved = vars;
        vars = ['$'];
        const [list, end] = itemList();
        if (end.t !== 'end') errorf('unexpected {{else}} in define clause');
        vars = saved;
        defs.set(dname, list);
        continue;
      }
      // back to the left delimiter (and any space after it)
      while (toks[i - 1]!.type !== 'leftDelim') i--;
      i--;
    }
    const n = textOrAction();
    if (n.t === 'end' || n.t === 'else') errorf(`unexpected {{${n.t}}}`);
    root.push(n as Node);
  }
  next(); // surfaces a lexer error at the end
  return { root, defs, text, name };
}

/** The value of a number or character constant: an int unless the text is a float's. */
function numberValue(text: string, isChar: boolean, errorf: (m: string) => never): bigint | number {
  if (isChar) {
    const s = unquote(`"${text.slice(1, -1).replace(/"/g, '\\"')}"`, errorf);
    const cps = [...s];
    if (cps.length !== 1) errorf(`malformed character constant: ${text}`);
    return BigInt(cps[0]!.codePointAt(0)!);
  }
  if (/i$/.test(text)) return errorf(`complex numbers are not supported: ${JSON.stringify(text)}`);
  const clean = text.replace(/_/g, '');
  const isHex = /^[+-]?0[xX]/.test(clean);
  if (!isHex && /[.eEpP]/.test(clean)) {
    const f = Number(clean);
    if (Number.isNaN(f) || clean === '.' || /^[+-]?\.?$/.test(clean)) errorf(`illegal number syntax: ${JSON.stringify(text)}`);
    return f;
  }
  let m = /^([+-]?)(0[xXoObB]?)?([0-9a-fA-F]*)$/.exec(clean);
  if (!m) return errorf(`illegal number syntax: ${JSON.stringify(text)}`);
  const [, sign, prefix = '', digits] = m;
  let v: bigint;
  try {
    if (prefix === '' || prefix === '0') {
      if (digits === '' && prefix === '') errorf(`illegal number syntax: ${JSON.stringify(text)}`);
      // a leading 0 means octal, as strconv's base 0 reads it
      v = prefix === '0' ? (digits === '' ? 0n : BigInt(`0o${digits}`)) : BigInt(digits!);
    } else {
      if (digits === '') errorf(`illegal number syntax: ${JSON.stringify(text)}`);
      v = BigInt(`0${prefix[1]!.toLowerCase()}${digits}`);
    }
  } catch (e) {
    if (e instanceof TemplateError) throw e;
    return errorf(`illegal number syntax: ${JSON.stringify(text)}`);
  }
  if (sign === '-') v = -v;
  if (v > 18446744073709551615n || v < -9223372036854775808n) errorf(`integer overflow: ${JSON.stringify(text)}`);
  m = null;
  return v; // beyond int64 (a uint64): an error when executed
}

/** strconv.Unquote for "…" and `…`. */
export function unquote(q: string, errorf: (m: string) => never = (m) => { throw new TemplateError(m); }): string {
  if (q.startsWith('`')) return q.slice(1, -1).replace(/\r/g, '');
  const body = q.slice(1, -1);
  let out = '';
  for (let k = 0; k < body.length; k++) {
    const c = body[k]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++k];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e !== undefined && e in simple) {
      out += simple[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(k + 1, k + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) errorf(`invalid syntax`);
      // \x is a byte; keep it a code unit (templates here are UTF-8 text)
      out += String.fromCodePoint(parseInt(hex, 16));
      k += n;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      const oct = body.slice(k, k + 3);
      if (!/^[0-7]{3}$/.test(oct)) errorf('invalid syntax');
      out += String.fromCharCode(parseInt(oct, 8));
      k += 2;
    } else {
      errorf('invalid syntax');
    }
  }
  return out;
}
