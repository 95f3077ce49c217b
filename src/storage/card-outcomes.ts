// Card outcomes for governance: per service and topic, cards served, accepted, overridden and left without
// feedback, the two rates, and the most frequent coded override reasons. Shared by the JSON API and the HTML page.
import type { OutcomeQuery, Storage } from './storage';

export const TOP_OVERRIDE_REASONS = 3;

export interface OverrideReasonSummary {
  system: string;
  code: string;
  display?: string;
  count: number;
}

export interface TopicOutcome {
  service: string;
  topic: string;
  served: number;
  accepted: number;
  overridden: number;
  noFeedback: number;
  /** accepted / served, rounded to 3 decimals. */
  acceptanceRate: number;
  /** overridden / served, rounded to 3 decimals. */
  overrideRate: number;
  topOverrideReasons: OverrideReasonSummary[];
}

export interface CardOutcomesReport {
  since: string;
  until: string;
  service?: string;
  topics: TopicOutcome[];
}

const rate = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 1000);

export async function cardOutcomes(storage: Storage, query: OutcomeQuery): Promise<CardOutcomesReport> {
  const rows = await storage.outcomeRows(query);
  const reasonsByTopic = new Map<string, OverrideReasonSummary[]>();
  // Rows arrive ordered by count within each topic.
  for (const r of rows.reasons) {
    const key = `${r.service}\u0000${r.topic}`;
    const list = reasonsByTopic.get(key) ?? [];
    if (list.length < TOP_OVERRIDE_REASONS) list.push({ system: r.system, code: r.code, ...(r.display !== null ? { display: r.display } : {}), count: r.count });
    reasonsByTopic.set(key, list);
  }
  return {
    since: new Date(query.since).toISOString(),
    until: new Date(query.until).toISOString(),
    ...(query.service !== undefined ? { service: query.service } : {}),
    topics: rows.topics.map((t) => ({
      service: t.service,
      topic: t.topic,
      served: t.served,
      accepted: t.accepted,
      overridden: t.overridden,
      noFeedback: t.served - t.accepted - t.overridden,
      acceptanceRate: rate(t.accepted, t.served),
      overrideRate: rate(t.overridden, t.served),
      topOverrideReasons: reasonsByTopic.get(`${t.service}\u0000${t.topic}`) ?? [],
    })),
  };
}
