// How a FHIRPath value reads in card text: resources as evidence lines (finding, value with unit, date),
// quantities as `12.1 g/dL`, dates as `YYYY-MM-DD`, numbers without float noise.
import { clinicalDateOf, isoDay, parseFhirDate } from './clinical-time';
import { unitTooLong } from './quantities';

type Json = Record<string, unknown>;

function conceptText(c: unknown): string | undefined {
  if (!c || typeof c !== 'object') return undefined;
  const cc = c as { text?: unknown; coding?: unknown };
  if (typeof cc.text === 'string' && cc.text) return cc.text;
  const codings = Array.isArray(cc.coding) ? (cc.coding as Json[]) : [];
  const withDisplay = codings.find((x) => typeof x.display === 'string' && x.display);
  if (withDisplay) return String(withDisplay.display);
  const first = codings.find((x) => typeof x.code === 'string');
  return first ? String(first.code) : undefined;
}

/** Card numbers show at most one decimal (clinical-rules §7). */
export function formatNumber(n: number): string {
  return String(Number(n.toFixed(1)));
}

/** A unit as card text: UCUM's "u" (and the lab spelling "mcg") read as micro. */
export function formatUnit(unit: string): string {
  return unit.replace(/^u(g|mol)\//, 'µ$1/').replace(/^mcg\//, 'µg/');
}

export function formatQuantity(q: Json): string {
  const value = typeof q.value === 'number' ? formatNumber(q.value) : String(q.value ?? '?');
  const comparator = typeof q.comparator === 'string' ? q.comparator : '';
  // An over-long unit is not converted anywhere; the card says so instead of printing it.
  const unit = unitTooLong(q) ? '(unit unreadable)' : formatUnit(typeof q.unit === 'string' && q.unit ? q.unit : typeof q.code === 'string' ? q.code : '');
  return `${comparator}${value}${unit ? ` ${unit}` : ''}`;
}

function observationValue(o: Json): string | undefined {
  if (o.valueQuantity && typeof o.valueQuantity === 'object') return formatQuantity(o.valueQuantity as Json);
  if (typeof o.valueString === 'string') return o.valueString;
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (typeof o.valueBoolean === 'boolean') return o.valueBoolean ? 'yes' : 'no';
  if (typeof o.valueInteger === 'number') return String(o.valueInteger);
  return undefined;
}

function interpretationCodes(o: Json): string {
  const list = Array.isArray(o.interpretation) ? (o.interpretation as Json[]) : [];
  const codes = list.flatMap((i) => (Array.isArray(i.coding) ? (i.coding as Json[]) : [])).map((c) => c.code).filter((c) => typeof c === 'string');
  return codes.length ? ` (${codes.join(', ')})` : '';
}

function truncateText(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`;
}

const ORDER_STATES: Record<string, string> = { draft: 'drafted', active: 'ordered', 'on-hold': 'ordered' };

/** The laboratory's reference range of a result, when it has one ("; reference range 0.5-1.0 mg/dL"). */
function rangeText(o: Json): string {
  const range = Array.isArray(o.referenceRange) ? (o.referenceRange[0] as Json | undefined) : undefined;
  const low = range?.low as Json | undefined;
  const high = range?.high as Json | undefined;
  if (high && typeof high.value === 'number') return `; reference range ${low && typeof low.value === 'number' ? `${formatNumber(low.value)}-` : 'up to '}${formatQuantity(high)}`;
  if (low && typeof low.value === 'number') return `; reference range from ${formatQuantity(low)}`;
  return '';
}

/** One evidence line for a resource; falls back to its type and id. */
export function describeResource(r: Json): string {
  const date = clinicalDateOf(r);
  const on = date === undefined ? ' (undated)' : ` on ${isoDay(date)}`;
  switch (r.resourceType) {
    case 'Observation': {
      // A registered or preliminary result is shown as pending (clinical-rules §1 pending line).
      const pending = r.status === 'registered' || r.status === 'preliminary' ? String(r.status) : undefined;
      const value = pending ?? observationValue(r);
      return `${conceptText(r.code) ?? 'Result'}: ${value ?? 'no value'}${pending ? '' : interpretationCodes(r)}${on}${pending ? '' : rangeText(r)}`;
    }
    case 'Condition':
      return `${conceptText(r.code) ?? 'Condition'}${date === undefined ? '' : ` (${isoDay(date)})`}`;
    case 'DiagnosticReport': {
      const conclusion = Array.isArray(r.conclusionCode) ? (r.conclusionCode as unknown[]).map(conceptText).filter(Boolean).join(', ') : '';
      return `${conceptText(r.code) ?? 'Report'}${conclusion ? `: ${conclusion}` : typeof r.conclusion === 'string' ? `: ${truncateText(r.conclusion, 200)}` : ''}${on}`;
    }
    case 'Procedure':
      return `${conceptText(r.code) ?? 'Procedure'}${on}`;
    case 'ServiceRequest':
      // Pending orders: "drafted" for a draft, "ordered" for active or on-hold (clinical-rules §1).
      return `${conceptText(r.code) ?? 'Order'}: ${ORDER_STATES[String(r.status)] ?? String(r.status ?? 'unknown status')}${date === undefined ? '' : ` (${isoDay(date)})`}`;
    case 'MedicationRequest':
      return `${conceptText(r.medicationCodeableConcept) ?? 'Medication'} (${String(r.status ?? 'unknown status')})`;
    case 'NutritionOrder':
      return `Diet order (${String(r.status ?? 'unknown status')})`;
    default:
      return `${String(r.resourceType ?? 'Resource')}/${String(r.id ?? '?')}`;
  }
}

/** Text for one plain JSON value (already unwrapped from fhirpath.js internals). */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') {
    // Date-times print as days in card text.
    return /^\d{4}-\d{2}-\d{2}T/.test(v) && parseFhirDate(v) !== undefined ? v.slice(0, 10) : v;
  }
  if (typeof v === 'object') {
    const o = v as Json;
    if (typeof o.resourceType === 'string') return describeResource(o);
    if ('value' in o && ('unit' in o || 'code' in o)) return formatQuantity(o);
    const text = conceptText(o);
    if (text) return text;
    if (typeof o.display === 'string') return o.display;
  }
  return JSON.stringify(v);
}
