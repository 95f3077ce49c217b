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

export interface CardDefinition {
  readonly topic: { code: string; display: string };
  readonly when: string;
  readonly indicator: 'info' | 'warning' | 'critical' | { expression: string };
  readonly summary: CompiledText;
  readonly detail?: CompiledText;
  readonly source: { label: string; url: string; icon?: string };
  readonly selectionBehavior: 'any' | 'at-most-one';
  readonly suggestions: SuggestionDefinition[];
  readonly overrideReasons: Coding3[];
  readonly links: { label: string; url: string; type: 'absolute' }[];
}

export interface PrefetchKey {
  readonly query: string;
  readonly required: boolean;
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
  readonly cards: readonly CardDefinition[];
}

export interface Registry {
  readonly services: ReadonlyMap<string, ServiceDefinition>;
  readonly valueSets: ValueSetIndex;
  readonly runtime: ExpressionRuntime;
}

export const TOPIC_SYSTEM = 'https://iph-cds.dev/fhir/CodeSystem/card-topic';

export interface RawLibrary {
  name: string;
  description: string;
  prefetch?: Record<string, PrefetchKey>;
  functions?: Record<string, string>;
  expressions: Record<string, string>;
  templates?: Record<string, Record<string, unknown>>;
  suggestionSets?: Record<string, RawSuggestion[]>;
  cards?: RawCard[];
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
  when: string;
  indicator: CardDefinition['indicator'];
  summary: string;
  detail?: string | string[];
  source: { label: string; url: string; icon?: string };
  selectionBehavior?: 'any' | 'at-most-one';
  /** Suggestions, or the name of a library's suggestion set. */
  suggestions?: RawSuggestion[] | string;
  overrideReasons?: Coding3[];
  links?: { label: string; url: string; type: 'absolute' }[];
}

export interface RawService {
  id: string;
  hook: HookName;
  title: string;
  description: string;
  usageRequirements?: string;
  prefetch?: Record<string, PrefetchKey>;
  uses?: string[];
  expressions: Record<string, string>;
  templates?: Record<string, Record<string, unknown>>;
  cards: RawCard[];
}
