// fhirpath.js's internal modules, typed: the compiler calls the reference engine's own function and operator
// implementations (equality, UCUM quantities, dates with partial precision) so that both engines agree by construction.
/* eslint-disable @typescript-eslint/no-require-imports */

export type Coll = unknown[];
/** The evaluation context fhirpath.js's functions read through `this`. */
export interface FpContext {
  vars: Record<string, unknown>;
  processedVars: Record<string, unknown>;
  instanceSelectorTypeByData: null;
  model: unknown;
  dataRoot: Coll;
  getDecimal: (v: unknown) => unknown;
  definedVars?: Record<string, unknown>;
  $this?: Coll;
  $index?: number;
}
export type FpFunction = (this: FpContext, ...args: never[]) => unknown;

export interface ResourceNodeLike {
  data: unknown;
  path: string | null;
  fhirNodeDataType: string | null;
  getTypeInfo(): TypeInfoLike;
}
export interface TypeInfoLike {
  is(other: TypeInfoLike, model: unknown): boolean;
  isValid(model: unknown): boolean;
}

interface TypesModule {
  ResourceNode: (abstract new (...args: never[]) => ResourceNodeLike) & {
    makeResNode(ctx: unknown, data: unknown, parent: unknown, path: unknown, _data: unknown, type: unknown, propName?: unknown, index?: unknown): ResourceNodeLike;
  };
  TypeInfo: new (o: { name: string; namespace?: string }) => TypeInfoLike;
  FP_Type: abstract new (...args: never[]) => { negate(): unknown };
  FP_Date: { checkString(ctx: unknown, s: string): unknown };
  FP_DateTime: { checkString(ctx: unknown, s: string): unknown };
  FP_Time: { checkString(ctx: unknown, s: string): unknown };
  FP_Quantity: new (ctx: unknown, value: unknown, unit: string) => unknown;
  FP_Decimal_Native: { getDecimal(v: unknown): unknown };
  typeFn: FpFunction;
  isFn: FpFunction;
  asFn: FpFunction;
}
interface UtilModule {
  makeChildResNodes(ctx: FpContext, parent: ResourceNodeLike, key: string, model: unknown): Coll;
  isTrue(x: unknown): boolean;
  toJSON(x: unknown): string;
}
type FunctionModule = Record<string, FpFunction>;

const load = (name: string): FunctionModule => require(`fhirpath/src/${name}.js`) as FunctionModule;

export const types = require('fhirpath/src/types.js') as TypesModule;
export const util = require('fhirpath/src/utilities.js') as UtilModule;
export const constants = require('fhirpath/src/constants.js') as { reset(): void };
export const singleton = (load('misc').singleton as unknown) as (coll: Coll, type: string) => unknown;
export const fns = {
  existence: load('existence'),
  filtering: load('filtering'),
  aggregate: load('aggregate'),
  combining: load('combining'),
  misc: load('misc'),
  equality: load('equality'),
  collections: load('collections'),
  math: load('math'),
  strings: load('strings'),
  navigation: load('navigation'),
  datetime: load('datetime'),
  logic: load('logic'),
  types: types as unknown as FunctionModule,
};
