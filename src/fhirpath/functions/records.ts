// Record functions: resources of a prefetch key by value set (indexed), offline value-set membership, the
// contract's "usable" filter (clinical-rules §2), status filters and the drug a MedicationRequest orders. All O(n).
import { clinicalDateOf } from '../../evaluation/clinical-time';
import { resolveValueSetUrl, type ValueSetIndex } from '../../evaluation/terminology';
import { codingsOfConcept, dataOf, resourceNode } from '../nodes';
import { scopeOf, type FpContext, type RequestScope } from '../scope';

type Json = Record<string, unknown>;

const USABLE_CLINICAL = new Set(['active', 'recurrence', 'relapse']);
const USABLE_VERIFICATION = new Set(['confirmed', 'provisional', 'unconfirmed']);
const USABLE_RESULT = new Set(['final', 'amended', 'corrected']);

function conceptCodes(c: unknown): string[] {
  return codingsOfConcept(c).map((x) => x.code).filter((x): x is string => typeof x === 'string');
}

function isUsable(r: Json): boolean {
  switch (r.resourceType) {
    case 'Condition': {
      const clinical = conceptCodes(r.clinicalStatus);
      const verification = conceptCodes(r.verificationStatus);
      return (r.clinicalStatus === undefined || clinical.some((c) => USABLE_CLINICAL.has(c))) &&
        (r.verificationStatus === undefined || verification.some((c) => USABLE_VERIFICATION.has(c)));
    }
    case 'Observation':
    case 'DiagnosticReport':
      return USABLE_RESULT.has(r.status as string);
    case 'Procedure':
      return r.status === 'completed';
    default:
      return true;
  }
}

/** The drug a MedicationRequest orders: its CodeableConcept, or the code of the Medication it references. */
function medicationConcept(req: Json, scope: RequestScope): unknown {
  if (req.medicationCodeableConcept) return req.medicationCodeableConcept;
  const ref = (req.medicationReference as Json | undefined)?.reference;
  if (typeof ref !== 'string') return undefined;
  if (ref.startsWith('#')) {
    const contained = Array.isArray(req.contained) ? (req.contained as Json[]) : [];
    return contained.find((c) => c.resourceType === 'Medication' && c.id === ref.slice(1))?.code;
  }
  const target = scope.referenceable.get(ref) ?? scope.referenceable.get(ref.split('/').slice(-2).join('/'));
  return target?.resourceType === 'Medication' ? target.code : undefined;
}

/** from('observations', 'hemoglobin'): resources of a prefetch key whose main code is in a value set (an index lookup). */
export function from(this: FpContext, _inputs: unknown[], key: string, valueSet: string): unknown[] {
  return scopeOf(this).index.coded(key, resolveValueSetUrl(valueSet)).map((r) => resourceNode(this, r));
}

/** memberOf(vs): true when any coding of a Coding/CodeableConcept input is in the value set (offline). */
export function memberOfIn(valueSets: ValueSetIndex) {
  return function memberOf(this: FpContext, inputs: unknown[], valueSet: string): unknown[] {
    if (inputs.length === 0) return [];
    const url = resolveValueSetUrl(valueSet);
    return [inputs.some((n) => codingsOfConcept(dataOf(n)).some((c) => valueSets.contains(url, c.system as string, c.code as string)))];
  };
}

/**
 * usable(): Conditions with clinicalStatus absent/active/recurrence/relapse and verificationStatus
 * absent/confirmed/provisional/unconfirmed; Observations and DiagnosticReports final/amended/corrected; Procedures
 * completed. Never dated after now.
 */
export function usable(this: FpContext, inputs: unknown[]): unknown[] {
  const end = scopeOf(this).now;
  return inputs.filter((n) => {
    const r = dataOf(n) as Json;
    if (!r || typeof r !== 'object' || !isUsable(r)) return false;
    const t = clinicalDateOf(r);
    return t === undefined || t <= end;
  });
}

/** withStatus('a,b'): resources whose status is one of the listed codes (a fast filter for large charts). */
export function withStatus(this: FpContext, inputs: unknown[], list: string): unknown[] {
  const wanted = new Set(list.split(',').map((s) => s.trim()));
  return inputs.filter((n) => wanted.has((dataOf(n) as Json | undefined)?.status as string));
}

/** medication(): the CodeableConcept of the drug a MedicationRequest orders (inline or referenced Medication). */
export function medication(this: FpContext, inputs: unknown[]): unknown[] {
  const scope = scopeOf(this);
  const out: unknown[] = [];
  for (const n of inputs) {
    const d = dataOf(n) as Json;
    const c = d && typeof d === 'object' ? medicationConcept(d, scope) : undefined;
    if (c) out.push(c);
  }
  return out;
}
