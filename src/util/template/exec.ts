/**
 * text/template's executor (Go's text/template/exec.go): walks the parsed
 * tree over a Go-modelled value (see values.ts) with the same rules for
 * fields and map keys, method and function calls, argument conversion,
 * variables and their scopes, if/with/range/break/continue, and the same
 * "template: NAME:LINE:COL: executing …" errors.
 */
import { argString, cmdString, TemplateError, type Arg, type Cmd, type Node, type Parsed, type Pipe } from './tree.js';
import { formatV } from './fmt.js';
import { GoStruct, isMethod, isStringSlice, isTrue, isTypedMap, kindOf, sortedKeys, typeName, type GoMethod, type ParamType } from './values.js';

/** A template function: parameter types (Go's reflect types, simplified), an optional variadic tail. */
export interface TemplateFunc {
  params: ParamType[];
  variadic?: ParamType;
  fn: (...args: unknown[]) => unknown;
}

export interface ExecOptions {
  /** Go's Option("missingkey=error"): a missing map key is an error instead of "<no value>". */
  missingKey?: 'default' | 'error';
}

const MISSING = Symbol('missing final argument');
type Final = unknown | typeof MISSING;
class Break {}
class Continue {}

export function execute(tpl: Parsed, funcs: Record<string, TemplateFunc>, data: unknown, opts: ExecOptions = {}): string {
  return new State(tpl, funcs, data, opts).run();
}

class State {
  private out = '';
  private vars: { name: string; value: unknown }[];
  private node: { pos: number; text: string } = { pos: 0, text: '' };
  private depth = 0;

  constructor(
    private readonly tpl: Parsed,
    private readonly funcs: Record<string, TemplateFunc>,
    data: unknown,
    private readonly opts: ExecOptions,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  run(): string {
    this.walkList(this.vars[0]!.value, this.tpl.root);
    return this.out;
  }

  private at(pos: number, text: string): void {
    this.node = { pos, text };
  }

  private errorf(msg: string): never {
    const before = this.tpl.text.slice(0, this.node.pos);
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = this.node.pos - (before.lastIndexOf('\n') + 1);
    const ctx = this.node.text.length > 20 ? `${this.node.text.slice(0, 20)}...` : this.node.text;
    const err = new TemplateError(`template: ${this.tpl.name}:${line}:${col}: executing ${JSON.stringify(this.tpl.name)} at <${ctx}>: ${msg}`);
    err.partial = this.out;
    throw err;
  }

  private walkList(dot: unknown, list: Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  private walk(dot: unknown, n: Node): void {
    switch (n.t) {
      case 'text':
        this.out += n.text;
        return;
      case 'action': {
        const v = this.evalPipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.print(v, n.pipe);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, n.pipe);
        if (isTrue(v)) this.walkList(n.t === 'with' ? v : dot, n.list);
        else if (n.elseList) this.walkList(dot, n.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        return this.walkRange(dot, n);
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
      case 'template': {
        const def = this.tpl.defs.get(n.name);
        this.at(n.pos, `{{template ${JSON.stringify(n.name)}}}`);
        if (!def) this.errorf(`template ${JSON.stringify(n.name)} not defined`);
        if (++this.depth > 10000) this.errorf('exceeded maximum template depth (100000)');
        const newDot = n.pipe ? this.evalPipeline(dot, n.pipe) : undefined;
        const saved = this.vars;
        this.vars = [{ name: '$', value: newDot }];
        this.walkList(newDot, def);
        this.vars = saved;
        this.depth--;
        return;
      }
    }
  }

  private walkRange(dot: unknown, r: Extract<Node, { t: 'if' | 'with' | 'range' }>): void {
    const outer = this.vars.length;
    const val = this.evalPipeline(dot, r.pipe);
    const mark = this.vars.length;
    const decl = r.pipe.decl;
    const one = (index: unknown, elem: unknown): boolean => {
      if (decl.length > 0) {
        if (r.pipe.isAssign) this.setVar(decl[0]!, decl.length > 1 ? index : elem);
        else this.vars[this.vars.length - 1]!.value = elem;
      }
      if (decl.length > 1) {
        if (r.pipe.isAssign) this.setVar(decl[1]!, elem);
        else this.vars[this.vars.length - 2]!.value = index;
      }
      try {
        this.walkList(elem, r.list);
      } catch (e) {
        if (e instanceof Break) return false;
        if (!(e instanceof Continue)) throw e;
      } finally {
        this.vars.length = mark;
      }
      return true;
    };
    let ran = false;
    switch (kindOf(val)) {
      case 'slice': {
        const a = val as unknown[];
        for (let i = 0; i < a.length; i++) {
          ran = true;
          if (!one(BigInt(i), a[i])) break;
        }
        break;
      }
      case 'map': {
        const o = val as Record<string, unknown>;
        for (const k of sortedKeys(o)) {
          ran = true;
          if (!one(k, o[k])) break;
        }
        break;
      }
      case 'invalid':
      case 'nil':
        break;
      default:
        this.errorf(`range can't iterate over ${formatV(val)}`);
    }
    this.vars.length = outer;
    if (!ran && r.elseList) this.walkList(dot, r.elseList);
  }

  private print(v: unknown, pipe: Pipe): void {
    if (v === undefined) {
      this.out += '<no value>';
      return;
    }
    if (isMethod(v)) {
      this.at(pipe.pos, argString(pipe));
      this.errorf(`can't print ${argString(pipe)} of type func`);
    }
    this.out += formatV(v);
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.errorf(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: unknown, pipe: Pipe): unknown {
    this.at(pipe.pos, argString(pipe));
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // an interface{} holding nil is dug out to an invalid value, as Go does
      if (value === null) value = undefined;
    }
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  private evalCommand(dot: unknown, cmd: Cmd, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.t) {
      case 'field':
        this.at(first.pos, argString(first));
        return this.evalFieldChain(dot, dot, first.ident, cmd, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first.name, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(dot, first, cmd, cmd.args, final);
    }
    this.at(first.pos, argString(first));
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case 'bool':
        return first.val;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.constant(first);
      case 'string':
        return first.text;
    }
  }

  /** A number constant's value; an integer beyond int64 errs here, at run time, as in Go. */
  private constant(n: Extract<Arg, { t: 'number' }>): bigint | number {
    if (typeof n.val === 'bigint' && (n.val > 9223372036854775807n || n.val < -9223372036854775808n)) this.errorf(`${n.text} overflows int`);
    return n.val;
  }

  private evalChain(dot: unknown, chain: Extract<Arg, { t: 'chain' }>, cmd: Cmd | undefined, args: Arg[] | undefined, final: Final): unknown {
    this.at(chain.pos, argString(chain));
    if (chain.node.t === 'nil') this.errorf(`indirection through explicit nil in ${argString(chain)}`);
    const recv = this.evalArg(dot, 'any', chain.node);
    return this.evalFieldChain(dot, recv === null ? undefined : recv, chain.field, cmd, args, final);
  }

  private evalVariable(dot: unknown, v: Extract<Arg, { t: 'variable' }>, cmd: Cmd | undefined, args: Arg[] | undefined, final: Final): unknown {
    this.at(v.pos, argString(v));
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      this.notAFunction(args ?? [v], final);
      return value;
    }
    return this.evalFieldChain(dot, value, v.ident.slice(1), cmd, args, final);
  }

  private evalFieldChain(dot: unknown, recv: unknown, ident: string[], cmd: Cmd | undefined, args: Arg[] | undefined, final: Final): unknown {
    // a value read from a map[string]interface{} is an interface {} to Go's messages
    let iface = false;
    for (let i = 0; i < ident.length - 1; i++) {
      const fromMap = kindOf(recv) === 'map' && !isTypedMap(recv as object);
      recv = this.evalField(dot, ident[i]!, undefined, undefined, MISSING, recv, iface);
      iface = fromMap;
    }
    return this.evalField(dot, ident[ident.length - 1]!, cmd, args, final, recv, iface);
  }

  private evalField(dot: unknown, name: string, cmd: Cmd | undefined, args: Arg[] | undefined, final: Final, recv: unknown, iface = false): unknown {
    if (recv === undefined) {
      if (this.opts.missingKey === 'error') this.errorf(`nil data; no entry for key ${JSON.stringify(name)}`);
      return undefined;
    }
    if (recv === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    const hasArgs = (args?.length ?? 0) > 1 || final !== MISSING;
    if (recv instanceof GoStruct) {
      if (Object.hasOwn(recv.fields, name)) {
        const f = recv.fields[name];
        if (isMethod(f)) return this.evalCall(dot, f, name, cmd, args, final);
        if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
        return f;
      }
    } else if (kindOf(recv) === 'map') {
      const o0 = recv as Record<string, unknown>;
      // a map type's methods come before its keys (docker's SubHeaderContext.Label)
      if (Object.hasOwn(o0, name) && isMethod(o0[name])) return this.evalCall(dot, o0[name] as GoMethod, name, cmd, args, final);
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      const o = recv as Record<string, unknown>;
      if (Object.hasOwn(o, name)) return o[name];
      if (this.opts.missingKey === 'error' && !isTypedMap(o)) this.errorf(`map has no entry for key ${JSON.stringify(name)}`);
      return undefined;
    }
    return this.errorf(`can't evaluate field ${name} in type ${iface ? 'interface {}' : typeName(recv)}`);
  }

  private evalFunction(dot: unknown, name: string, ident: Arg, cmd: Cmd, args: Arg[], final: Final): unknown {
    this.at(ident.pos, name);
    const f = this.funcs[name];
    if (!f) this.errorf(`${JSON.stringify(name)} is not a defined function`);
    return this.evalCall(dot, f, name, cmd, args, final);
  }

  private evalCall(dot: unknown, f: TemplateFunc | GoMethod, name: string, cmd: Cmd | undefined, allArgs: Arg[] | undefined, final: Final): unknown {
    const args = allArgs ? allArgs.slice(1) : [];
    const variadic = 'variadic' in f ? f.variadic : undefined;
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    const numFixed = variadic ? f.params.length : args.length;
    if (variadic) {
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${f.params.length} got ${args.length}`);
    } else if (numIn !== f.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${f.params.length} got ${numIn}`);
    }
    if (name === 'and' || name === 'or') {
      let v: unknown;
      for (const a of args) {
        v = this.evalArg(dot, 'value', a);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = this.validate(final, 'value');
      return v;
    }
    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv.push(this.evalArg(dot, f.params[i]!, args[i]!));
    if (variadic) for (; i < args.length; i++) argv.push(this.evalArg(dot, variadic, args[i]!));
    if (final !== MISSING) {
      const t = variadic && numIn - 1 >= numFixed ? variadic : f.params[numIn - 1]!;
      argv.push(this.validate(final, t));
    }
    try {
      return f.fn(...argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      if (cmd) this.at(cmd.pos, cmdString(cmd));
      return this.errorf(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  /** Go's validateType: a value where a parameter of type t is wanted. */
  private validate(v: unknown, t: ParamType): unknown {
    if (v === undefined) {
      if (t === 'any') return null;
      if (t === 'value') return undefined;
      if (t === '[]string') return [];
      return this.errorf(`invalid value; expected ${t}`);
    }
    switch (t) {
      case 'any':
      case 'value':
        return v;
      case 'string':
        if (typeof v === 'string') return v;
        break;
      case 'int':
        if (typeof v === 'bigint') return v;
        break;
      case '[]string':
        if (isStringSlice(v) || v === null) return v ?? [];
        break;
    }
    return this.errorf(`wrong type for value; expected ${t}; got ${typeName(v)}`);
  }

  private evalArg(dot: unknown, t: ParamType, n: Arg): unknown {
    this.at(n.pos, argString(n));
    switch (n.t) {
      case 'dot':
        return this.validate(dot, t);
      case 'nil':
        if (t === 'any' || t === '[]string') return null;
        if (t === 'value') return null;
        return this.errorf(`cannot assign nil to ${t}`);
      case 'field':
        return this.validate(this.evalFieldChain(dot, dot, n.ident, undefined, [n], MISSING), t);
      case 'variable':
        return this.validate(this.evalVariable(dot, n, undefined, undefined, MISSING), t);
      case 'pipe':
        return this.validate(this.evalPipeline(dot, n), t);
      case 'identifier':
        return this.validate(this.evalFunction(dot, n.name, n, { pos: n.pos, args: [n] }, [n], MISSING), t);
      case 'chain':
        return this.validate(this.evalChain(dot, n, undefined, undefined, MISSING), t);
    }
    switch (t) {
      case 'string':
        if (n.t === 'string') return n.text;
        return this.errorf(`expected string; found ${argString(n)}`);
      case 'int':
        if (n.t === 'number' && (typeof n.val === 'bigint' || Number.isInteger(n.val))) return BigInt(this.constant(n));
        return this.errorf(`expected integer; found ${argString(n)}`);
      case '[]string':
        return this.errorf(`can't handle ${argString(n)} for arg of type []string`);
      default:
        if (n.t === 'bool') return n.val;
        if (n.t === 'number') return this.constant(n);
        return n.text;
    }
  }
}
