// What the CLI prints: cards per patient (text or the --json shape), the CSV of --out, and the per-topic summary.
import type { PatientResult } from './patient-call';

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function textReport(results: PatientResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if ('error' in r) {
      lines.push(`${r.patient}: not evaluated (${r.error})`);
      continue;
    }
    lines.push(`${r.patient}: ${r.cards.length === 0 ? 'no cards' : `${r.cards.length} card(s)`}`);
    for (const c of r.cards) lines.push(`  ${c.source.topic.code} [${c.indicator}] ${c.summary}`);
  }
  return `${lines.join('\n')}\n`;
}

export function jsonReport(results: PatientResult[]): string {
  return `${JSON.stringify({ results })}\n`;
}

/** One row per card (patient, topic, indicator, summary); a patient without cards gets one row with empty topic. */
export function csvReport(results: PatientResult[]): string {
  const rows = [['patient', 'topic', 'indicator', 'summary', 'error']];
  for (const r of results) {
    if ('error' in r) rows.push([r.patient, '', '', '', r.error]);
    else if (r.cards.length === 0) rows.push([r.patient, '', '', '', '']);
    else for (const c of r.cards) rows.push([r.patient, c.source.topic.code, c.indicator, c.summary, '']);
  }
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

export function summaryReport(results: PatientResult[]): string {
  const perTopic = new Map<string, number>();
  let withCards = 0;
  let failed = 0;
  for (const r of results) {
    if ('error' in r) {
      failed += 1;
      continue;
    }
    if (r.cards.length > 0) withCards += 1;
    for (const topic of new Set(r.cards.map((c) => c.source.topic.code))) perTopic.set(topic, (perTopic.get(topic) ?? 0) + 1);
  }
  const lines = [`Summary: ${results.length} patient(s), ${withCards} with cards, ${failed} not evaluated`];
  for (const [topic, n] of [...perTopic.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) lines.push(`  ${topic}: ${n} patient(s)`);
  return `${lines.join('\n')}\n`;
}
