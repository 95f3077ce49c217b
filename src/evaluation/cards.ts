// Card templates -> CDS Hooks 2.0 cards: `when` decides, text is interpolated, suggestions and actions
// keep only those whose own `when` holds, every card and suggestion gets a fresh uuid, and no optional
// member is ever null or empty.
import { randomUUID } from 'node:crypto';
import { TOPIC_SYSTEM, type ActionDefinition, type CardDefinition, type ServiceDefinition } from '../definitions/types';
import { errorMessage } from '../errors';
import { toPlain } from '../fhirpath/nodes';
import { type CompiledExpression } from '../fhirpath/runtime';
import { isTrue, layerVariables, type Evaluation } from './evaluate';
import { renderText, renderValue, type Evaluate } from './templates';

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface Action {
  type: 'create' | 'update' | 'delete';
  description: string;
  resource?: Record<string, unknown>;
  resourceId?: string;
}

export interface Suggestion {
  label: string;
  uuid: string;
  isRecommended?: boolean;
  actions: Action[];
}

export interface Card {
  uuid: string;
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; icon?: string; topic: Coding };
  suggestions?: Suggestion[];
  selectionBehavior?: 'any' | 'at-most-one';
  overrideReasons?: Coding[];
  links?: { label: string; url: string; type: 'absolute' | 'smart' }[];
}

const SUMMARY_MAX = 139;

function evaluator(evaluation: Evaluation, extra: Record<string, unknown> = {}): Evaluate {
  // The action's own variables sit in front of the evaluation's (prototype chain): no copy, and no lazy name is forced.
  const vars = Object.keys(extra).length ? layerVariables(evaluation.vars, extra) : evaluation.vars;
  return (expr: CompiledExpression) => {
    try {
      return expr.evaluate(evaluation.context, vars);
    } catch (e) {
      evaluation.failures.push({ name: `template: ${expr.source}`, message: errorMessage(e) });
      return [];
    }
  };
}

function indicatorOf(card: CardDefinition, evaluation: Evaluation): Card['indicator'] {
  if (typeof card.indicator === 'string') return card.indicator;
  const value = toPlain((evaluation.vars[card.indicator.expression] as unknown[] | undefined)?.[0]);
  return value === 'critical' || value === 'warning' ? value : 'info';
}

function renderActions(def: ActionDefinition, evaluation: Evaluation, bound: Record<string, unknown>): Action[] {
  if (def.when && !isTrue(evaluation.vars[def.when])) return [];
  const items: unknown[] = def.forEach ? ((evaluation.vars[def.forEach] as unknown[] | undefined) ?? []) : [undefined];
  return items.flatMap((item) => {
    const extra: Record<string, unknown> = { ...bound, ...structuredClone(def.with) };
    if (def.forEach) extra.item = [item];
    const evaluate = evaluator(evaluation, extra);
    const action: Action = { type: def.type, description: renderText(def.description, evaluate) || def.type };
    if (def.resource) {
      const resource = renderValue(def.resource, evaluate);
      if (!resource || typeof resource !== 'object') return [];
      action.resource = resource as Record<string, unknown>;
    }
    if (def.resourceId) {
      const id = renderText(def.resourceId, evaluate);
      if (!id) return [];
      action.resourceId = id;
    }
    return [action];
  });
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`;
}

/** Per-request rendering inputs. */
export interface RenderOptions {
  /** External base URL of this service (CDS_PUBLIC_URL or the request's origin): makes `smart` link paths absolute. */
  baseUrl?: string;
}

function renderLinks(card: CardDefinition, options: RenderOptions): NonNullable<Card['links']> {
  // A smart link without a known base cannot be absolute (CDS Hooks requires it), so it is left out.
  return card.links.flatMap((l) => (l.type === 'absolute' ? [{ ...l }] : options.baseUrl ? [{ label: l.label, url: `${options.baseUrl.replace(/\/+$/, '')}${l.url}`, type: l.type }] : []));
}

export function renderCard(card: CardDefinition, evaluation: Evaluation, options: RenderOptions = {}): Card {
  const evaluate = evaluator(evaluation);
  const suggestions: Suggestion[] = [];
  // The card's bound variables (e.g. the priority and the reason of its orders), read once for every action.
  const bound = Object.fromEntries(Object.entries(card.bind).map(([v, name]) => [v, evaluation.vars[name]]));
  const offered = card.suggestionsWhen === undefined || isTrue(evaluation.vars[card.suggestionsWhen]);
  for (const s of offered ? card.suggestions : []) {
    if (s.when && !isTrue(evaluation.vars[s.when])) continue;
    const actions = s.actions.flatMap((a) => renderActions(a, evaluation, bound));
    if (actions.length === 0) continue;
    suggestions.push({ label: renderText(s.label, evaluate), uuid: randomUUID(), ...(s.isRecommended !== undefined ? { isRecommended: s.isRecommended } : {}), actions });
  }
  const detail = card.detail ? renderText(card.detail, evaluate) : '';
  const out: Card = {
    uuid: randomUUID(),
    // A summary is required: one whose expressions render empty on odd data falls back to the topic's display.
    summary: truncate(renderText(card.summary, evaluate) || card.topic.display, SUMMARY_MAX),
    indicator: indicatorOf(card, evaluation),
    source: {
      label: card.source.label,
      url: card.source.url,
      ...(card.source.icon ? { icon: card.source.icon } : {}),
      topic: { system: TOPIC_SYSTEM, code: card.topic.code, display: card.topic.display },
    },
  };
  if (detail) out.detail = detail;
  if (suggestions.length) {
    out.suggestions = suggestions;
    out.selectionBehavior = card.selectionBehavior;
  }
  if (card.overrideReasons.length) out.overrideReasons = card.overrideReasons.map((r) => ({ ...r }));
  const links = renderLinks(card, options);
  if (links.length) out.links = links;
  return out;
}

/** Every card whose `when` holds, in definition order. */
export function renderCards(service: ServiceDefinition, evaluation: Evaluation, options: RenderOptions = {}): Card[] {
  return service.cards.filter((c) => isTrue(evaluation.vars[c.when])).map((c) => renderCard(c, evaluation, options));
}
