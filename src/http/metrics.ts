// Prometheus metrics of one app: its own prom-client Registry (never the global one, so several apps can live in one
// process), small observe* functions for the call path, and the GET /metrics handler (Bearer CDS_OPS_TOKEN when set).
// Label values come only from the registry (service ids, topics) or fixed lists; anything else is "other".
import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Registry as Definitions } from '../definitions/types';
import type { KeyFetchOutcome } from '../fhir/prefetch';
import { HttpError } from '../errors';

export type FallbackOutcome = 'ok' | 'timeout' | 'refused' | 'too_large' | 'error';

export interface Metrics {
  readonly registry: Registry;
  /** One finished HTTP call (service undefined for discovery and unknown paths). */
  observeRequest(service: string | undefined, status: number, seconds: number): void;
  observeEvaluation(service: string, seconds: number): void;
  observeCards(service: string, cards: readonly { uuid: string; indicator: string; source: { topic: { code: string } } }[]): void;
  observeFeedback(service: string, items: readonly { card: string; outcome: string }[]): void;
  observeFallback(outcomes: Readonly<Record<string, KeyFetchOutcome>>): void;
  observeEvaluationTimeout(service: string): void;
}

const OTHER = 'other';
// Cards served recently, so feedback (which names a card by uuid only) can be counted by topic. Bounded: feedback
// for an older card counts as "other".
const REMEMBERED_CARDS = 10_000;
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Maps a fallback key outcome to a fixed label; the reasons are the FHIR client's fixed wordings. */
export function fallbackOutcomeOf(outcome: KeyFetchOutcome): FallbackOutcome {
  if (outcome.ok) return 'ok';
  // The caller sees one reason for every server failure; the precise cause (log-only) decides the metric label.
  const why = outcome.cause ?? outcome.reason;
  if (why === 'timed out') return 'timeout';
  if (why === 'fhirServer not allowed' || why.startsWith('FHIR server refused access')) return 'refused';
  if (why.startsWith('more than ') || why === 'response too large') return 'too_large';
  return 'error';
}

/** A fresh registry with default process metrics (event-loop lag included) and the service's own metrics. */
export function createMetrics(definitions: Definitions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const services = new Set(definitions.services.keys());
  const topics = new Set([...definitions.services.values()].flatMap((s) => s.cards.map((c) => c.topic.code)));
  const serviceLabel = (id: string | undefined) => (id === undefined ? 'none' : services.has(id) ? id : OTHER);
  const topicLabel = (code: string | undefined) => (code !== undefined && topics.has(code) ? code : OTHER);

  const requests = new Counter({ name: 'cds_http_requests_total', help: 'HTTP requests by service and status code', labelNames: ['service', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'cds_http_request_duration_seconds', help: 'HTTP request duration by service', labelNames: ['service'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const evaluation = new Histogram({ name: 'cds_evaluation_duration_seconds', help: 'Hook call evaluation time (prefetch resolution, rules, cards) by service', labelNames: ['service'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const cards = new Counter({ name: 'cds_cards_total', help: 'Cards returned by service, topic and indicator', labelNames: ['service', 'topic', 'indicator'], registers: [registry] });
  const feedback = new Counter({ name: 'cds_feedback_total', help: 'Feedback outcomes by topic of the card', labelNames: ['service', 'topic', 'outcome'], registers: [registry] });
  const fallback = new Counter({ name: 'cds_fhir_fallback_requests_total', help: 'Prefetch keys fetched from the FHIR server, by outcome', labelNames: ['outcome'], registers: [registry] });
  const timeouts = new Counter({ name: 'cds_evaluation_timeouts_total', help: 'Evaluations stopped by their time budget, by service', labelNames: ['service'], registers: [registry] });
  const cardTopics = new Map<string, string>();

  return {
    registry,
    observeRequest(service, status, seconds) {
      const label = serviceLabel(service);
      requests.inc({ service: label, status: String(status) });
      latency.observe({ service: label }, seconds);
    },
    observeEvaluation(service, seconds) {
      evaluation.observe({ service: serviceLabel(service) }, seconds);
    },
    observeCards(service, served) {
      for (const card of served) {
        const topic = topicLabel(card.source.topic.code);
        const indicator = ['info', 'warning', 'critical'].includes(card.indicator) ? card.indicator : OTHER;
        cards.inc({ service: serviceLabel(service), topic, indicator });
        if (cardTopics.size >= REMEMBERED_CARDS) cardTopics.delete(cardTopics.keys().next().value as string);
        cardTopics.set(card.uuid, topic);
      }
    },
    observeFeedback(service, items) {
      for (const item of items) {
        const outcome = item.outcome === 'accepted' || item.outcome === 'overridden' ? item.outcome : OTHER;
        feedback.inc({ service: serviceLabel(service), topic: cardTopics.get(item.card) ?? OTHER, outcome });
      }
    },
    observeFallback(outcomes) {
      for (const outcome of Object.values(outcomes)) fallback.inc({ outcome: fallbackOutcomeOf(outcome) });
    },
    observeEvaluationTimeout(service) {
      timeouts.inc({ service: serviceLabel(service) });
    },
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * GET /metrics: the Prometheus text of `collect()` (this app's registry, or the whole cluster's), behind
 * `Authorization: Bearer <opsToken>` when a token is configured. Compared as SHA-256 digests so the comparison is
 * constant-time whatever the lengths.
 */
export function metricsHandler(collect: () => Promise<{ contentType: string; text: string }>, opsToken: string | undefined): RequestHandler {
  const expected = opsToken === undefined ? undefined : digest(opsToken);
  return (req, res, next) => {
    if (expected !== undefined) {
      const match = /^Bearer[ ]+(\S{1,1024})[ ]*$/i.exec(req.get('authorization') ?? '');
      if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
        next(new HttpError(401, { code: 'login', diagnostics: 'unauthorized' }, { 'WWW-Authenticate': 'Bearer' }));
        return;
      }
    }
    collect().then(({ contentType, text }) => {
      res.setHeader('Cache-Control', 'no-store');
      res.type(contentType).send(text);
    }, next);
  };
}
