// The syntax tree of an expression, from fhirpath.js's own parser, and the unescaping of its literals and
// delimited identifiers (the same rules as fhirpath.js applies when it evaluates them).
import fhirpath from 'fhirpath';

export interface AstNode {
  type: string;
  text?: string;
  /** Set by fhirpath.js's parser on a member name at the start of a path: 1 outside, 2 inside a function's parameters. */
  atRoot?: 1 | 2;
  delimitedText?: string;
  start?: { line: number; column: number };
  /** QuantityLiteral: the number and the unit, as written. */
  value?: string;
  unit?: string;
  children?: AstNode[];
}

export function parseFhirPath(expression: string): AstNode {
  return fhirpath.parse(expression) as AstNode;
}

/** Thrown at compile time for a construct the compiler leaves to fhirpath.js. */
export class UnsupportedFhirPath extends Error {
  constructor(readonly construct: string) {
    super(`not compiled: ${construct}`);
  }
}

export function child(node: AstNode, i = 0): AstNode {
  const c = node.children?.[i];
  if (!c) throw new UnsupportedFhirPath(`${node.type} without operand ${i}`);
  return c;
}

function unescape(str: string): string {
  return str.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, sub: string) => {
    switch (sub) {
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'f':
        return '\f';
      default:
        return sub.length > 1 ? String.fromCharCode(parseInt(sub.slice(1), 16)) : sub;
    }
  });
}

/** 'text' -> text with escapes resolved; anything else unchanged. */
export function stringLiteralValue(str: string | undefined): string {
  const s = str ?? '';
  return s.length >= 2 && s[0] === "'" && s[s.length - 1] === "'" ? unescape(s.slice(1, -1)) : s;
}

/** `name` -> name with escapes resolved; anything else unchanged. */
export function identifierValue(str: string | undefined): string {
  const s = str ?? '';
  return s.length >= 2 && s[0] === '`' && s[s.length - 1] === '`' ? unescape(s.slice(1, -1)) : s;
}
