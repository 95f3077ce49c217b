// The shapes of the service definitions: as written in cds-services/ (Raw*) and as compiled into the registry.
// Its own module so that nothing imports the loader for a type.
import type { CompiledText, CompiledValue } from '../evaluation/templates';
import type { CompiledExpression, ExpressionRuntime } from '../fhirpath/runtime';
import type { HookName } from '../cds-hooks';
import type { ValueSetIndex } from '../evaluation/terminology';

export interface LoadIssue {
  file: string;
  pointer: string;
  message: string;
}

export interface NamedExpression {
  readonly name: string;
  readonly expression: CompiledExpression;
  readonly file: string;
  readonly pointer: string;
}

export interface ActionDefinition {
  readonly type: 'create' | 'update' | 'delete';
  readonly description: CompiledText;
  readonly when?: string;
  readonly forEach?: string;
  readonly resource?: CompiledValue;
  /** Variables the resource template sees (`with`), as plain JSON. */
  readonly with: Record<string, unknown>;
  readonly resourceId?: CompiledText;
}

export interface SuggestionDefinition {
  readonly label: CompiledText;
  readonly when?: string;
  readonly isRecommended?: boolean;
  readonly actions: ActionDefinition[];
}

export interface Coding3 {
  system: string;
  code: string;
  display: string;
}

/** A card link: `absolute` as written; `smart` (a SMART app of this service) names a path resolved per request. */
export interface LinkDefinition {
  readonly label: string;
  readonly url: string;
  readonly type: 'absolute' | 'smart';
}

export interface CardDefinition {
  readonly topic: { code: string; display: string };
  /** Variables the card's action templates see: template variable -> expression name. */
  readonly bind: Readonly<Record<string, string>>;
  /** The card offers its suggestions only when this boolean expression holds. */
  readonly suggestionsWhen?: string;
  readonly when: string;
  readonly indicator: 'info' | 'warning' | 'critical' | { expression: string };
  readonly summary: CompiledText;
  readonly detail?: CompiledText;
  readonly source: { label: string; url: string; icon?: string };
  readonly selectionBehavior: 'any' | 'at-most-one';
  readonly suggestions: SuggestionDefinition[];
  readonly overrideReasons: Coding3[];
  readonly links: LinkDefinition[];
}

export interface PrefetchKey {
  readonly query: string;
  readonly required: boolean;
}

/** A value set (id or url) whose codes a prefetch search lists, optionally only those of some systems. */
export type PrefetchCodes = string | { readonly valueSet: string; readonly systems?: readonly string[] };

/** A prefetch template as written: `codes` are rendered into the query's code= parameter at load time. */
export interface RawPrefetchKey {
  query: string;
  required: boolean;
  description?: string;
  codes?: PrefetchCodes[];
}

export interface ServiceDefinition {
  readonly id: string;
  readonly hook: HookName;
  readonly title: string;
  readonly description: string;
  readonly usageRequirements?: string;
  readonly prefetch: Readonly<Record<string, PrefetchKey>>;
  /** Library expressions first, then the service's own, in evaluation order. */
  readonly expressions: readonly NamedExpression[];
  /** Named tables of the libraries used (variables of every evaluation). */
  readonly tables: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  readonly checklists: readonly ChecklistDefinition[];
  readonly cards: readonly CardDefinition[];
}

export interface Registry {
  readonly services: ReadonlyMap<string, ServiceDefinition>;
  readonly valueSets: ValueSetIndex;
  readonly runtime: ExpressionRuntime;
}

export const TOPIC_SYSTEM = 'https://iph-cds.dev/fhir/CodeSystem/card-topic';

/** An expression: one string, or an array of lines (joined with line breaks) for long rules. */
export type RawExpression = string | string[];

export interface RawLibrary {
  name: string;
  description: string;
  prefetch?: Record<string, RawPrefetchKey>;
  /** Named, unit-bearing thresholds ("15 'ug/L'"): FHIRPath literals, visible as %name to rules and card text. */
  thresholds?: Record<string, string>;
  /** Named tables (rows of plain JSON), visible as %name; a row's `valueSet` member must name a known value set. */
  tables?: Record<string, Record<string, unknown>[]>;
  checklists?: Record<string, RawChecklist>;
  functions?: Record<string, RawExpression>;
  expressions: Record<string, RawExpression>;
  templates?: Record<string, Record<string, unknown>>;
  suggestionSets?: Record<string, RawSuggestion[]>;
  cards?: RawCard[];
}

/**
 * A checklist (e.g. the exclusion work-up): tests grouped into groups. The loader expands it into named
 * expressions, inserted after the expression named `after` (see expandChecklist).
 */
export interface RawChecklist {
  label: string;
  /** The expansion follows this expression (default: the library's last one). */
  after?: string;
  /**
   * FHIRPath templates per test (a test row may carry its own): `{field}` is replaced by the test row's member (e.g.
   * `{valueSet}`, `{window}`). `results`: the results that complete the test; `pending`: its pending orders and
   * preliminary results; `flag`: text appended to a done result's line (FHIRPath on the result).
   */
  results?: string;
  pending?: string;
  flag?: string;
  tests: RawChecklistTest[];
  groups?: RawChecklistGroup[];
  /** The name under which the checklist's orders are a suggestion set (see expandOrders). */
  suggestionSet?: string;
  /** The resource template every order of the checklist fills (its variables: code, text, kind). */
  orderTemplate?: string;
  /** The suggestions of the set, in order: each orders the listed tests. */
  suggestions?: RawChecklistSuggestion[];
}

/** How a test is ordered: the ServiceRequest code, its text and kind (the template's category). */
export interface RawChecklistOrder {
  code: Coding3;
  text: string;
  kind: string;
  /** The action's description (default: "Order " + the test's label). */
  description?: string;
}

/**
 * One suggestion of a checklist's set: offered when one of `tests` is needed, one action per distinct order. Tests
 * in `alongside` are ordered with them when neither done nor pending, before their own requiredWhen holds.
 */
export interface RawChecklistSuggestion {
  /** Default: the description of its one action. */
  label?: string;
  tests: string[];
  alongside?: string[];
}

export interface RawChecklistTest {
  id: string;
  label: string;
  valueSet: string;
  /** FHIRPath: the test is only required when it holds (default: always). */
  requiredWhen?: string;
  results?: string;
  pending?: string;
  flag?: string;
  /** FHIRPath: the state line of a done test, on its latest result (default: evidence() + flag). */
  line?: string;
  /** FHIRPath: the state line's text when the test is neither done nor pending (default 'not on record'). */
  missingText?: string;
  /** How the test is ordered, or the id of the test whose order also completes this one (one urinalysis, two tests). */
  order?: RawChecklistOrder | string;
  [field: string]: unknown;
}

export interface RawChecklistGroup {
  id: string;
  label: string;
  tests: string[];
}

/** What the loader exposes of a checklist: its groups and tests and the names that hold their state per request. */
export interface ChecklistDefinition {
  readonly id: string;
  readonly label: string;
  readonly groups: readonly {
    readonly id: string;
    readonly label: string;
    /** Boolean expressions: done, pending (every missing test pending), missing (neither). */
    readonly names: { readonly done: string; readonly pending: string; readonly missing: string; readonly results: string };
    readonly tests: readonly { readonly id: string; readonly label: string; readonly valueSet: string; readonly names: { readonly results: string; readonly pending: string; readonly needed: string } }[];
  }[];
  /** Collections of group labels / lines: done, pending, missing (a partial group with its missing tests), pending items. */
  readonly names: { readonly doneLines: string; readonly pendingGroups: string; readonly missingGroups: string; readonly missingLines: string; readonly pendingItems: string; readonly stateLines: string };
}

export interface RawSuggestion {
  label: string;
  when?: string;
  isRecommended?: boolean;
  actions: RawAction[];
}

export interface RawAction {
  type: 'create' | 'update' | 'delete';
  description: string;
  when?: string;
  forEach?: string;
  template?: string;
  with?: Record<string, unknown>;
  resource?: Record<string, unknown>;
  resourceId?: string;
}

export interface RawCard {
  topic: { code: string; display: string };
  /** Variables the card's action templates see: template variable -> expression name (e.g. priority, reason). */
  bind?: Record<string, string>;
  /** Name of a boolean expression: the card offers its suggestions only when it holds (a shared set made inert). */
  suggestionsWhen?: string;
  when: string;
  indicator: CardDefinition['indicator'];
  summary: string;
  detail?: string | string[];
  source: { label: string; url: string; icon?: string };
  selectionBehavior?: 'any' | 'at-most-one';
  /** Suggestions, or the name of a library's suggestion set. */
  suggestions?: RawSuggestion[] | string;
  overrideReasons?: Coding3[];
  links?: LinkDefinition[];
}

export interface RawService {
  id: string;
  hook: HookName;
  title: string;
  description: string;
  usageRequirements?: string;
  prefetch?: Record<string, RawPrefetchKey>;
  uses?: string[];
  expressions: Record<string, RawExpression>;
  templates?: Record<string, Record<string, unknown>>;
  cards: RawCard[];
}
