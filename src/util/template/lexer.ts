/**
 * text/template's lexer (Go's text/template/parse/lex.go, same tokens and
 * messages): text, {{ }} actions with trim markers, comments, fields,
 * variables, identifiers and keywords, strings, raw strings, characters,
 * numbers, parentheses, pipes and := / =.
 */

export type TokType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'bool'
  | 'nil'
  | 'number'
  | 'charConstant'
  | 'string'
  | 'rawString'
  | 'char'
  | 'pipe'
  | 'assign'
  | 'declare'
  | 'leftParen'
  | 'rightParen'
  | 'dot'
  | 'eof'
  | 'error';

export interface Token {
  type: TokType;
  val: string;
  pos: number;
  line: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && (c === '_' || /^[\p{L}\p{Nd}]$/u.test(c));

export function lex(input: string): Token[] {
  const toks: Token[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;
  const L = '{{';
  const R = '}}';

  const emit = (type: TokType, val = input.slice(start, pos)) => {
    toks.push({ type, val, pos: start, line: startLine });
    start = pos;
    startLine = line;
  };
  const ignore = () => {
    line += count(input.slice(start, pos), '\n');
    start = pos;
    startLine = line;
  };
  const advance = (n: number) => {
    line += count(input.slice(pos, pos + n), '\n');
    pos += n;
  };
  const fail = (msg: string) => {
    toks.push({ type: 'error', val: msg, pos: start, line: startLine });
  };
  const peek = () => input[pos];
  const atRightDelim = (): [boolean, boolean] => {
    if (isSpace(input[pos]) && input[pos + 1] === '-' && input.startsWith(R, pos + 2)) return [true, true];
    return [input.startsWith(R, pos), false];
  };
  const atTerminator = () => {
    const c = input[pos];
    if (c === undefined || isSpace(c) || '.,|:)('.includes(c)) return true;
    return input.startsWith(R, pos);
  };
  const leftTrimLength = (s: string) => s.length - s.replace(/^[ \t\r\n]+/, '').length;

  // text and actions, until EOF or an error
  for (;;) {
    // text
    const x = input.indexOf(L, pos);
    if (x < 0) {
      advance(input.length - pos);
      if (pos > start) emit('text');
      toks.push({ type: 'eof', val: '', pos, line });
      return toks;
    }
    advance(x - pos);
    const trimLeft = input[x + 2] === '-' && isSpace(input[x + 3]);
    let end = pos;
    if (trimLeft) end = start + input.slice(start, pos).replace(/[ \t\r\n]+$/, '').length;
    if (end > start) {
      toks.push({ type: 'text', val: input.slice(start, end), pos: start, line: startLine });
    }
    start = pos;
    startLine = line;
    // left delimiter
    advance(L.length);
    const afterMarker = trimLeft ? 2 : 0;
    if (input.startsWith('/*', pos + afterMarker)) {
      advance(afterMarker);
      ignore();
      advance(2);
      const close = input.indexOf('*/', pos);
      if (close < 0) return (fail('unclosed comment'), toks);
      advance(close + 2 - pos);
      const [delim, trim] = atRightDelim();
      if (!delim) return (fail('comment ends before closing delimiter'), toks);
      if (trim) advance(2);
      advance(R.length);
      if (trim) advance(leftTrimLength(input.slice(pos)));
      ignore();
      continue;
    }
    emit('leftDelim');
    advance(afterMarker);
    ignore();
    parenDepth = 0;
    // inside the action
    for (;;) {
      const [delim, trim] = atRightDelim();
      if (delim) {
        if (parenDepth !== 0) return (fail('unclosed left paren'), toks);
        if (trim) {
          advance(2);
          ignore();
        }
        advance(R.length);
        emit('rightDelim');
        if (trim) {
          advance(leftTrimLength(input.slice(pos)));
          ignore();
        }
        break;
      }
      const c = input[pos];
      if (c === undefined) return (fail('unclosed action'), toks);
      if (isSpace(c)) {
        let n = 0;
        while (isSpace(peek())) {
          advance(1);
          n++;
        }
        // a space before " -}}" belongs to the trim marker
        if (input[pos - 1] !== undefined && isSpace(input[pos - 1]) && input[pos] === '-' && input.startsWith(R, pos + 1)) {
          pos--;
          if (input[pos] === '\n') line--;
          if (n === 1) continue;
        }
        emit('space');
        continue;
      }
      advance(1);
      if (c === '=') {
        emit('assign');
      } else if (c === ':') {
        if (peek() !== '=') return (fail('expected :='), toks);
        advance(1);
        emit('declare');
      } else if (c === '|') {
        emit('pipe');
      } else if (c === '"') {
        for (;;) {
          const d = input[pos];
          if (d === '\\') {
            const e = input[pos + 1];
            if (e === undefined || e === '\n') return (fail('unterminated quoted string'), toks);
            advance(2);
            continue;
          }
          if (d === undefined || d === '\n') return (fail('unterminated quoted string'), toks);
          advance(1);
          if (d === '"') break;
        }
        emit('string');
      } else if (c === '`') {
        const close = input.indexOf('`', pos);
        if (close < 0) return (fail('unterminated raw quoted string'), toks);
        advance(close + 1 - pos);
        emit('rawString');
      } else if (c === '$' || (c === '.' && !(input[pos]! >= '0' && input[pos]! <= '9'))) {
        if (atTerminator()) {
          emit(c === '$' ? 'variable' : 'dot');
          continue;
        }
        while (isAlphaNumeric(peek())) advance(1);
        if (!atTerminator()) return (fail(`bad character ${unicodeName(input[pos]!)}`), toks);
        emit(c === '$' ? 'variable' : 'field');
      } else if (c === "'") {
        for (;;) {
          const d = input[pos];
          if (d === '\\') {
            if (input[pos + 1] === undefined || input[pos + 1] === '\n') return (fail('unterminated character constant'), toks);
            advance(2);
            continue;
          }
          if (d === undefined || d === '\n') return (fail('unterminated character constant'), toks);
          advance(1);
          if (d === "'") break;
        }
        emit('charConstant');
      } else if (c === '.' || c === '+' || c === '-' || (c >= '0' && c <= '9')) {
        pos--;
        if (!scanNumber()) return (fail(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`), toks);
        emit('number');
      } else if (isAlphaNumeric(c)) {
        while (isAlphaNumeric(peek())) advance(1);
        const word = input.slice(start, pos);
        if (!atTerminator()) return (fail(`bad character ${unicodeName(input[pos]!)}`), toks);
        if (KEYWORDS.has(word)) emit('keyword');
        else if (word === 'true' || word === 'false') emit('bool');
        else if (word === 'nil') emit('nil');
        else emit('identifier');
      } else if (c === '(') {
        parenDepth++;
        emit('leftParen');
      } else if (c === ')') {
        parenDepth--;
        if (parenDepth < 0) return (fail('unexpected right paren'), toks);
        emit('rightParen');
      } else if (c.charCodeAt(0) < 0x7f && c.charCodeAt(0) >= 0x20) {
        emit('char');
      } else {
        return (fail(`unrecognized character in action: ${unicodeName(c)}`), toks);
      }
    }
  }

  function scanNumber(): boolean {
    const accept = (set: string) => {
      if (input[pos] !== undefined && set.includes(input[pos]!)) {
        pos++;
        return true;
      }
      return false;
    };
    const acceptRun = (set: string) => {
      while (input[pos] !== undefined && set.includes(input[pos]!)) pos++;
    };
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(input[pos])) {
      pos++;
      return false;
    }
    return true;
  }
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/** Go's %#U: U+0021 '!' */
function unicodeName(c: string): string {
  const cp = c.codePointAt(0)!;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}
