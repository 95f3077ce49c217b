// The evaluation context of a compiled expression: one Root per evaluation (variables, model, data root) and a
// light Scope per focus change ($this, $index, defineVariable names), shaped as fhirpath.js's context so that its
// functions, called directly, read what they expect through `this`.
import type { Coll, FpContext } from './internals';

export class Root {
  readonly instanceSelectorTypeByData = null;
  constructor(
    readonly vars: Record<string, unknown>,
    readonly processedVars: Record<string, unknown>,
    readonly model: unknown,
    public dataRoot: Coll,
    readonly getDecimal: (v: unknown) => unknown,
    /** The %variables of `vars` read so far, as read (wrapped). */
    readonly userValues: Map<string, unknown>,
  ) {}
}

export class Scope implements FpContext {
  constructor(
    readonly root: Root,
    public $this: Coll | undefined,
    public $index: number | undefined,
    public definedVars: Record<string, unknown> | undefined,
  ) {}
  get vars(): Record<string, unknown> {
    return this.root.vars;
  }
  get processedVars(): Record<string, unknown> {
    return this.root.processedVars;
  }
  get instanceSelectorTypeByData(): null {
    return null;
  }
  get model(): unknown {
    return this.root.model;
  }
  get dataRoot(): Coll {
    return this.root.dataRoot;
  }
  get getDecimal(): (v: unknown) => unknown {
    return this.root.getDecimal;
  }
}

/** fhirpath.js's cloneCtx: a new $this, and a copy of the defined variables so a subexpression's stay its own. */
export function withThis(s: Scope, $this: Coll | undefined): Scope {
  return new Scope(s.root, $this, s.$index, s.definedVars ? { ...s.definedVars } : undefined);
}

/** A compiled node: the collection it yields for an input collection (the focus) in a scope. */
export type Code = (focus: Coll, s: Scope) => Coll;
