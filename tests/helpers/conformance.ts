// CDS Hooks 2.0 response rules (cds-hooks.md §4.10) as a checker that lists every violation.
const INDICATORS = new Set(['info', 'warning', 'critical']);
const ACTION_TYPES = new Set(['create', 'update', 'delete']);

type Json = Record<string, unknown>;

function isEmptyValue(v: unknown): boolean {
  if (v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/** Null or empty members anywhere (CDS Hooks §1: optional members are omitted, never empty). */
function emptyMembers(v: unknown, path: string, out: string[]): void {
  if (Array.isArray(v)) v.forEach((x, i) => emptyMembers(x, `${path}[${i}]`, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (isEmptyValue(x)) out.push(`${path}.${k} is null or empty`);
      else emptyMembers(x, `${path}.${k}`, out);
    }
  }
}

export function responseViolations(body: unknown): string[] {
  const out: string[] = [];
  const b = body as Json;
  if (!b || typeof b !== 'object' || !Array.isArray(b.cards)) return ['cards is not an array'];
  (b.cards as Json[]).forEach((card, i) => {
    const p = `cards[${i}]`;
    if (typeof card.summary !== 'string' || card.summary.length === 0 || card.summary.length >= 140) out.push(`${p}.summary must be a string under 140 characters`);
    if (!INDICATORS.has(card.indicator as string)) out.push(`${p}.indicator ${String(card.indicator)} is not info/warning/critical`);
    const source = card.source as Json | undefined;
    if (!source || typeof source.label !== 'string' || !source.label) out.push(`${p}.source.label missing`);
    const topic = source?.topic as Json | undefined;
    if (!topic || typeof topic.system !== 'string' || typeof topic.code !== 'string') out.push(`${p}.source.topic needs system and code`);
    if (source?.url !== undefined && !/^https?:\/\//.test(String(source.url))) out.push(`${p}.source.url is not absolute`);
    if (typeof card.uuid !== 'string') out.push(`${p}.uuid missing`);
    if (card.detail !== undefined && typeof card.detail !== 'string') out.push(`${p}.detail is not a string`);
    const suggestions = card.suggestions as Json[] | undefined;
    if (suggestions !== undefined) {
      if (!['any', 'at-most-one'].includes(card.selectionBehavior as string)) out.push(`${p}.selectionBehavior required with suggestions`);
      if (card.selectionBehavior === 'at-most-one' && suggestions.filter((s) => s.isRecommended === true).length > 1) out.push(`${p} at-most-one with several recommended`);
      suggestions.forEach((s, j) => {
        const sp = `${p}.suggestions[${j}]`;
        if (typeof s.label !== 'string' || !s.label) out.push(`${sp}.label missing`);
        if (typeof s.uuid !== 'string') out.push(`${sp}.uuid missing`);
        const actions = s.actions as Json[] | undefined;
        if (!Array.isArray(actions) || actions.length === 0) out.push(`${sp}.actions must be a non-empty array`);
        (actions ?? []).forEach((a, k) => {
          const ap = `${sp}.actions[${k}]`;
          if (!ACTION_TYPES.has(a.type as string)) out.push(`${ap}.type invalid`);
          if (typeof a.description !== 'string' || !a.description) out.push(`${ap}.description missing`);
          if (a.type === 'delete') {
            if (typeof a.resourceId !== 'string' || !/^[A-Za-z]+\/[^/]+$/.test(a.resourceId)) out.push(`${ap} delete needs resourceId Type/id`);
            if (a.resource !== undefined) out.push(`${ap} delete must not carry resource`);
          } else if (!a.resource || typeof (a.resource as Json).resourceType !== 'string') out.push(`${ap}.resource must be a FHIR resource`);
        });
      });
    } else if (card.selectionBehavior !== undefined) out.push(`${p}.selectionBehavior without suggestions`);
    ((card.overrideReasons as Json[] | undefined) ?? []).forEach((r, j) => {
      if (typeof r.code !== 'string' || typeof r.system !== 'string' || typeof r.display !== 'string') out.push(`${p}.overrideReasons[${j}] needs code, system and display`);
    });
    ((card.links as Json[] | undefined) ?? []).forEach((l, j) => {
      if (typeof l.label !== 'string' || !/^https?:\/\//.test(String(l.url)) || !['absolute', 'smart'].includes(l.type as string)) out.push(`${p}.links[${j}] invalid`);
      if (l.type !== 'smart' && l.appContext !== undefined) out.push(`${p}.links[${j}] appContext only for smart links`);
    });
  });
  const topics = (b.cards as Json[]).map((c) => ((c.source as Json | undefined)?.topic as Json | undefined)?.code);
  if (new Set(topics).size !== topics.length) out.push('more than one card per topic');
  // `{"cards": []}` is the one empty member the spec allows.
  for (const [i, card] of (b.cards as Json[]).entries()) emptyMembers(card, `cards[${i}]`, out);
  return out;
}
