// Reading checks on a rendered card (clinical-rules §1 "No empty section" and the lead's wording bar):
// each function returns the problems it finds in one card, empty when the card reads cleanly.
type Json = Record<string, unknown>;

const LIST_ITEM = /^\s*(?:[-*+]|\d+[.)])\s+/;
const HEADING = /^\s*#{1,6}\s/;

/** A label ("Why this patient:", "**Pending:**") must be followed directly by an item; headings need content. */
export function emptySections(detail: string): string[] {
  const lines = detail.split('\n');
  const problems: string[] = [];
  lines.forEach((line, i) => {
    const text = line.trim();
    const next = lines[i + 1]?.trim() ?? '';
    const isLabel = (t: string) => /:(\*\*|__|\*|_)?$/.test(t);
    if (isLabel(text) && (next === '' || isLabel(next) || HEADING.test(next))) problems.push(`label "${text}" is not followed directly by an item`);
    if (HEADING.test(line)) {
      const rest = lines.slice(i + 1).find((l) => l.trim() !== '');
      if (rest === undefined || HEADING.test(rest)) problems.push(`heading "${text}" has no content`);
    }
    if (/^\s*(?:[-*+]|\d+[.)])\s*$/.test(line)) problems.push(`empty list item at line ${i + 1}`);
  });
  return problems;
}

/** The same name twice in a row in a list: "Prednisone, prednisone", or two identical list items. */
export function duplicatedNames(detail: string): string[] {
  const problems: string[] = [];
  const repeated = /\b([A-Za-z][\w-]*(?: [A-Za-z][\w-]*)?)(?:,\s*|\s+and\s+|\s+or\s+)\1\b/gi;
  for (const m of detail.matchAll(repeated)) problems.push(`repeated name "${m[0]}"`);
  let list: string[] = [];
  for (const line of [...detail.split('\n'), '']) {
    if (LIST_ITEM.test(line)) {
      const item = line.replace(LIST_ITEM, '').trim().toLowerCase();
      if (list.includes(item)) problems.push(`list item "${item}" appears twice`);
      list.push(item);
    } else if (line.trim() === '' || !/^\s/.test(line)) list = [];
  }
  return problems;
}

/** Text of a card a clinician reads: summary, detail, source label, suggestion and link labels. */
function readableTexts(card: Json): string[] {
  const source = (card.source as Json | undefined) ?? {};
  return [
    String(card.summary ?? ''),
    String(card.detail ?? ''),
    String(source.label ?? ''),
    ...((card.suggestions as Json[] | undefined) ?? []).map((s) => String(s.label ?? '')),
    ...((card.links as Json[] | undefined) ?? []).map((l) => String(l.label ?? '')),
  ];
}

/** Every problem of one card; `where` prefixes each message. */
export function cardReadingProblems(card: Json, where: string): string[] {
  const detail = String(card.detail ?? '');
  const summary = String(card.summary ?? '');
  const problems = [...emptySections(detail), ...duplicatedNames(detail)];
  if (summary.length >= 140) problems.push(`summary is ${summary.length} characters (limit 139): "${summary}"`);
  const texts = readableTexts(card);
  const urls = [String(((card.source as Json | undefined) ?? {}).url ?? ''), ...((card.links as Json[] | undefined) ?? []).map((l) => String(l.url ?? ''))];
  for (const t of texts) {
    if (/\w\(s\)/.test(t)) problems.push(`"(s)" plural in "${t.slice(0, 80)}"`);
    if (t.includes('{{') || t.includes('}}')) problems.push(`unrendered template in "${t.slice(0, 80)}"`);
  }
  for (const t of [...texts, ...urls]) {
    const placeholder = /example\.(?:org|com|net)|localhost|127\.0\.0\.1|\bTODO\b|\bTBD\b|\bFIXME\b|lorem ipsum/i.exec(t);
    if (placeholder) problems.push(`placeholder "${placeholder[0]}" in "${t.slice(0, 80)}"`);
  }
  return problems.map((p) => `${where}: ${p}`);
}
