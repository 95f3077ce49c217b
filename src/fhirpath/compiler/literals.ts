// Literal nodes: strings, numbers (fhirpath.js's decimals), longs, booleans, `{}`, quantities (UCUM or calendar
// units) and dates/times with partial precision, each built with fhirpath.js's own types.
import { stringLiteralValue, UnsupportedFhirPath, type AstNode } from './ast';
import { types } from './internals';
import type { Code } from './scope';

const { FP_Date, FP_DateTime, FP_Time, FP_Quantity, FP_Decimal_Native } = types;

function constant(build: () => unknown): Code {
  // Built once at load: fhirpath.js's date, time and quantity objects are never changed after construction.
  const value = build();
  return () => [value];
}

function timeLiteral(node: AstNode, parse: { checkString(ctx: unknown, s: string): unknown }, what: string, model: unknown): Code {
  const text = node.text ?? '';
  const value = parse.checkString({ model, getDecimal: FP_Decimal_Native.getDecimal }, text.slice(1));
  if (!value) {
    return () => {
      throw new Error(`Invalid ${what} literal: ${text}`);
    };
  }
  return () => [value];
}

export function compileLiteral(node: AstNode, model: unknown): Code {
  const text = node.text ?? '';
  switch (node.type) {
    case 'StringLiteral': {
      const s = stringLiteralValue(text);
      return () => [s];
    }
    case 'NumberLiteral':
      return (_f, s) => [s.getDecimal(text)];
    case 'LongNumberLiteral': {
      const n = BigInt(text.slice(0, -1));
      return () => [n];
    }
    case 'BooleanLiteral': {
      const b = text === 'true';
      return () => [b];
    }
    case 'NullLiteral':
      return () => [];
    case 'QuantityLiteral':
      return constant(() => new FP_Quantity({ model, getDecimal: FP_Decimal_Native.getDecimal }, FP_Decimal_Native.getDecimal(node.value), node.unit ?? ''));
    case 'DateLiteral':
      return timeLiteral(node, FP_Date, 'date', model);
    case 'DateTimeLiteral':
      return timeLiteral(node, FP_DateTime, 'date-time', model);
    case 'TimeLiteral':
      return timeLiteral(node, FP_Time, 'time', model);
    default:
      throw new UnsupportedFhirPath(node.type);
  }
}
