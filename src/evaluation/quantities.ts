// Quantity normalisation: unit strings that real systems send -> UCUM codes, and conversion of a
// value to a target unit through fhirpath.js's UCUM library (mass vs molar needs an explicit factor).
// UCUM parsing is superlinear in the unit's length, so a unit longer than MAX_UNIT_LENGTH is never parsed.
import fhirpath from 'fhirpath';
import { MAX_UNIT_LENGTH, overLong } from '../limits';

const UCUM_SYSTEM = 'http://unitsofmeasure.org';

/** Spellings seen in lab feeds that are not valid case-sensitive UCUM, keyed by lower case. */
const UNIT_ALIASES: Record<string, string> = {
  'g/dl': 'g/dL', 'gm/dl': 'g/dL', 'g/l': 'g/L', 'mg/dl': 'mg/dL', 'mg/l': 'mg/L', 'ng/ml': 'ng/mL', 'pg/ml': 'pg/mL',
  'ug/l': 'ug/L', 'µg/l': 'ug/L', 'μg/l': 'ug/L', 'mcg/l': 'ug/L', 'ug/dl': 'ug/dL', 'mmol/l': 'mmol/L', 'umol/l': 'umol/L',
  'µmol/l': 'umol/L', 'μmol/l': 'umol/L', 'x10^9/l': '10*9/L', '10^9/l': '10*9/L', 'x10e9/l': '10*9/L', '10*9/l': '10*9/L',
  '10e9/l': '10*9/L', 'k/ul': '10*3/uL', 'x10^3/ul': '10*3/uL', '10^3/ul': '10*3/uL', '10*3/ul': '10*3/uL', 'thou/ul': '10*3/uL',
  'k/µl': '10*3/uL', 'sec': 's', 'secs': 's', 'seconds': 's', '/hpf': '/[HPF]', 'rbc/hpf': '/[HPF]', 'cells/hpf': '/[HPF]',
  '/[hpf]': '/[HPF]', 'percent': '%', 'ratio': '{ratio}', 'iu/l': '[IU]/L', 'u/ml': '[U]/mL', 'u/l': 'U/L', 'eu/ml': '[U]/mL',
};

export interface QuantityLike {
  value?: unknown;
  unit?: unknown;
  system?: unknown;
  code?: unknown;
}

/** True when the quantity's unit or code is too long to be read (shown as such in evidence, never converted). */
export function unitTooLong(q: QuantityLike): boolean {
  return overLong(q.unit, MAX_UNIT_LENGTH) || overLong(q.code, MAX_UNIT_LENGTH);
}

/** The UCUM code of a quantity: its `code` when the system is UCUM, else its `unit` string normalised. */
export function ucumCodeOf(q: QuantityLike): string | undefined {
  if (unitTooLong(q)) return undefined;
  if (q.system === UCUM_SYSTEM && typeof q.code === 'string' && q.code) return q.code;
  const raw = typeof q.unit === 'string' ? q.unit.trim() : typeof q.code === 'string' ? q.code.trim() : '';
  if (!raw) return undefined;
  return UNIT_ALIASES[raw.toLowerCase()] ?? raw;
}

/** Entries of the conversion cache; keys are at most two capped units, so it stays under ~2 MB. */
export const FACTOR_CACHE_ENTRIES = 4096;
const factorCache = new Map<string, number | null>();

/** Multiplicative factor from one UCUM unit to another, or null when they are not commensurable. */
function conversionFactor(from: string, to: string): number | null {
  if (from === to) return 1;
  const key = `${from}\u0000${to}`;
  const hit = factorCache.get(key);
  if (hit !== undefined) return hit;
  let factor: number | null = null;
  try {
    const r = fhirpath.ucumUtils.convertUnitTo(from, 1, to) as { status?: string; toVal?: number };
    if (r?.status === 'succeeded' && typeof r.toVal === 'number' && Number.isFinite(r.toVal)) factor = r.toVal;
  } catch {
    factor = null;
  }
  // Oldest first out: junk units from one request cannot lock the cache against the real ones.
  if (factorCache.size >= FACTOR_CACHE_ENTRIES) factorCache.delete(factorCache.keys().next().value as string);
  factorCache.set(key, factor);
  return factor;
}

/**
 * The value of `q` expressed in `targetUnit`, or undefined when it cannot be converted.
 * `molarFactor` (g/dL per mmol/L: hemoglobin 1.611) converts between molar and mass units (µmol/L <-> mg/dL).
 */
export function quantityIn(q: QuantityLike, targetUnit: string, molarFactor?: number): number | undefined {
  const value = typeof q.value === 'number' ? q.value : typeof q.value === 'string' ? Number(q.value) : NaN;
  if (!Number.isFinite(value)) return undefined;
  const from = ucumCodeOf(q);
  if (!from) return undefined;
  if (targetUnit.length > MAX_UNIT_LENGTH) return undefined;
  const target = UNIT_ALIASES[targetUnit.toLowerCase()] ?? targetUnit;
  let result: number | undefined;
  const direct = conversionFactor(from, target);
  if (direct !== null) result = value * direct;
  else if (molarFactor !== undefined) {
    // Mass <-> amount of substance (not commensurable in UCUM): through mmol/L and g/dL with the analyte's factor.
    const fromMolar = conversionFactor(from, 'mmol/L');
    const toMass = conversionFactor('g/dL', target);
    const fromMass = conversionFactor(from, 'g/dL');
    const toMolar = conversionFactor('mmol/L', target);
    if (fromMolar !== null && toMass !== null) result = value * fromMolar * molarFactor * toMass;
    else if (fromMass !== null && toMolar !== null) result = ((value * fromMass) / molarFactor) * toMolar;
  }
  return result === undefined ? undefined : Number(result.toPrecision(12));
}

/** Number of cached unit conversions (for tests of the bound). */
export function factorCacheSize(): number {
  return factorCache.size;
}
