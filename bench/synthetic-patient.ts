// Seeded synthetic charts for the benchmark: a child with diffuse alveolar hemorrhage findings, a partial
// exclusion work-up and no celiac screening, plus years of CBC/chemistry series, and the patient-view
// hook request a client would send for it (prefetch as searchset Bundles, as the FHIR server answers).
import type {
  Bundle,
  CodeableConcept,
  Condition,
  DiagnosticReport,
  FhirResource,
  Observation,
  OperationOutcome,
  Patient,
  Procedure,
  Quantity,
  ServiceRequest,
} from 'fhir/r4';
import type { searchResources as SearchResourcesFn } from '../demo/fhir-search';
import type { renderPrefetchTemplate as RenderPrefetchTemplateFn } from '../src/fhir/client';
import type { ServiceDefinition } from '../src/definitions/types';
import type { HookRequest } from '../src/cds-hooks';

const DAY = 86_400_000;
const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const UCUM = 'http://unitsofmeasure.org';
const V3_INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
export const FHIR_BASE = 'https://ehr.example.org/fhir';

/** mulberry32: a tiny 32-bit PRNG, so that every run generates the same chart from the same seed. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A normally distributed value (Box-Muller) from a uniform source. */
function gaussian(random: () => number, mean: number, sd: number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

interface LabSeries {
  code: string;
  display: string;
  text: string;
  unit: string;
  ucum: string;
  /** Share of the series observations (weights, normalised). */
  weight: number;
  decimals: number;
  low?: number;
  high?: number;
  /** Mean and spread of the value a given number of days before now. */
  value(daysAgo: number): { mean: number; sd: number };
}

/**
 * The routine lab series of a sick child's chart (how often each is drawn, relative). Hemoglobin falls
 * and ferritin is low in the last months (the DAH picture); creatinine, INR and platelets stay normal so
 * that no alternative cause fires by chance and every size produces the same cards.
 */
const SERIES: readonly LabSeries[] = [
  { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', text: 'Hemoglobin', unit: 'g/dL', ucum: 'g/dL', weight: 4, decimals: 1, low: 11.5, high: 15.5,
    value: (d) => (d < 60 ? { mean: 9.2, sd: 0.5 } : { mean: 12.6, sd: 0.6 }) },
  { code: '777-3', display: 'Platelets [#/volume] in Blood by Automated count', text: 'Platelets', unit: '10*9/L', ucum: '10*9/L', weight: 4, decimals: 0, low: 150, high: 450,
    value: () => ({ mean: 290, sd: 45 }) },
  { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', text: 'Creatinine', unit: 'mg/dL', ucum: 'mg/dL', weight: 3, decimals: 2, low: 0.3, high: 0.7,
    value: () => ({ mean: 0.45, sd: 0.05 }) },
  { code: '1988-5', display: 'C reactive protein [Mass/volume] in Serum or Plasma', text: 'CRP', unit: 'mg/L', ucum: 'mg/L', weight: 2, decimals: 1, high: 5,
    value: () => ({ mean: 2.5, sd: 1.2 }) },
  { code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma', text: 'Ferritin', unit: 'ug/L', ucum: 'ug/L', weight: 1, decimals: 0, low: 15, high: 150,
    value: (d) => (d < 120 ? { mean: 8, sd: 2 } : { mean: 35, sd: 8 }) },
  { code: '6301-6', display: 'INR in Platelet poor plasma by Coagulation assay', text: 'INR', unit: '{INR}', ucum: '{INR}', weight: 1, decimals: 2, low: 0.8, high: 1.2,
    value: () => ({ mean: 1.0, sd: 0.06 }) },
  { code: '14979-9', display: 'aPTT in Platelet poor plasma by Coagulation assay', text: 'aPTT', unit: 's', ucum: 's', weight: 1, decimals: 1, low: 25, high: 38,
    value: () => ({ mean: 30, sd: 2 }) },
];

/** Statuses a real lab feed carries besides final (a few results are never usable). */
function pickStatus(random: () => number): Observation['status'] {
  const r = random();
  if (r < 0.02) return 'preliminary';
  if (r < 0.03) return 'entered-in-error';
  if (r < 0.04) return 'amended';
  return 'final';
}

/** Observations of the fixed work-up (MPO-ANCA, PR3-ANCA, ANA); the rest are the lab series. */
export const WORKUP_OBSERVATIONS = 3;
/** Resources of the fixed clinical core besides Observations (Patient, 6 Conditions, 2 reports, 1 procedure, 3 orders). */
export const CORE_OTHER_RESOURCES = 13;

export interface PatientSpec {
  /** Observations in the chart: the fixed work-up plus routine lab series spread over `years`. */
  observations: number;
  /** Unrelated problem-list entries (sent: the conditions query has no code filter). */
  otherConditions: number;
  seed: number;
  years?: number;
}

export interface SyntheticPatient {
  patientId: string;
  resources: FhirResource[];
  counts: Record<string, number>;
}

function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoDay(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

function concept(system: string, code: string, display: string, text = display): CodeableConcept {
  return { coding: [{ system, code, display }], text };
}

const CLINICAL_ACTIVE = concept('http://terminology.hl7.org/CodeSystem/condition-clinical', 'active', 'Active');
const CLINICAL_RESOLVED = concept('http://terminology.hl7.org/CodeSystem/condition-clinical', 'resolved', 'Resolved');
const VERIFICATION_CONFIRMED = concept('http://terminology.hl7.org/CodeSystem/condition-ver-status', 'confirmed', 'Confirmed');
const LAB_CATEGORY = [concept('http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory', 'Laboratory')];

/** Problems of a school child's chart that no rule reads (sent anyway, as a client would). */
const OTHER_PROBLEMS: readonly [string, string][] = [
  ['J06.9', 'Acute upper respiratory infection, unspecified'],
  ['H66.90', 'Otitis media, unspecified, unspecified ear'],
  ['J02.9', 'Acute pharyngitis, unspecified'],
  ['L20.9', 'Atopic dermatitis, unspecified'],
  ['R50.9', 'Fever, unspecified'],
  ['K59.00', 'Constipation, unspecified'],
  ['S93.401A', 'Sprain of unspecified ligament of right ankle, initial encounter'],
  ['J45.909', 'Unspecified asthma, uncomplicated'],
];

/**
 * One chart. The clinical core is fixed (same cards at every size): recent hemoptysis and a lung
 * infiltrate with low hemoglobin (the DAH triad: iph-evaluation, iph-exclusion-workup), iron deficiency
 * anemia, ANCA and ANA done, anti-GBM ordered, antiphospholipid and urine tests missing, a recent echo,
 * no celiac serology (celiac-screening). The size comes from the lab series and unrelated problems.
 */
export function generatePatient(spec: PatientSpec, now: number): SyntheticPatient {
  const random = createRandom(spec.seed);
  const years = spec.years ?? 3;
  const patientId = `bench-${spec.seed}-${spec.observations}`;
  const seriesObservations = spec.observations - WORKUP_OBSERVATIONS;
  const subject = { reference: `Patient/${patientId}` };
  const resources: FhirResource[] = [];
  const daysAgo = (d: number, jitterHours = 0) => now - d * DAY - Math.floor(random() * jitterHours) * 3_600_000;

  const patient: Patient = {
    resourceType: 'Patient',
    id: patientId,
    meta: { lastUpdated: iso(daysAgo(3)) },
    identifier: [{ system: 'https://ehr.example.org/fhir/sid/mrn', value: `MRN-${spec.seed}` }],
    name: [{ use: 'official', family: 'Synthetic', given: ['Bench'] }],
    gender: 'female',
    birthDate: isoDay(now - Math.round(9.4 * 365.25) * DAY),
  };
  resources.push(patient);

  let conditionNo = 0;
  const condition = (code: CodeableConcept, onsetDaysAgo: number, extra: Partial<Condition> = {}): Condition => ({
    resourceType: 'Condition',
    id: `cond-${++conditionNo}`,
    clinicalStatus: CLINICAL_ACTIVE,
    verificationStatus: VERIFICATION_CONFIRMED,
    category: [concept('http://terminology.hl7.org/CodeSystem/condition-category', 'encounter-diagnosis', 'Encounter Diagnosis')],
    code,
    subject,
    onsetDateTime: iso(daysAgo(onsetDaysAgo)),
    recordedDate: iso(daysAgo(onsetDaysAgo)),
    ...extra,
  });
  const withSnomed = (icd: string, icdDisplay: string, sct: string, sctDisplay: string): CodeableConcept => ({
    coding: [{ system: ICD10, code: icd, display: icdDisplay }, { system: SNOMED, code: sct, display: sctDisplay }],
    text: icdDisplay,
  });
  resources.push(
    condition(withSnomed('R04.2', 'Hemoptysis', '66857006', 'Hemoptysis'), 12),
    condition(concept(SNOMED, '409609008', 'Radiologic infiltrate of lung'), 10),
    condition(withSnomed('R05.9', 'Cough, unspecified', '49727002', 'Cough'), 40),
    condition(withSnomed('R06.02', 'Shortness of breath', '267036007', 'Dyspnea'), 30),
    condition(withSnomed('R53.83', 'Other fatigue', '84229001', 'Fatigue'), 75),
    condition(withSnomed('D50.9', 'Iron deficiency anemia, unspecified', '87522002', 'Iron deficiency anemia'), 150),
  );
  for (let i = 0; i < spec.otherConditions; i++) {
    const [code, display] = OTHER_PROBLEMS[i % OTHER_PROBLEMS.length] as [string, string];
    const onset = Math.floor(random() * years * 365);
    resources.push(condition(concept(ICD10, code, display), onset, { clinicalStatus: onset > 60 ? CLINICAL_RESOLVED : CLINICAL_ACTIVE }));
  }

  let obsNo = 0;
  const quantity = (value: number, unit: string, ucum: string): Quantity => ({ value, unit, system: UCUM, code: ucum });
  const labObservation = (s: LabSeries, t: number, value: number, status: Observation['status']): Observation => {
    const interpretation =
      s.low !== undefined && value < s.low ? 'L' : s.high !== undefined && value > s.high ? 'H' : 'N';
    return {
      resourceType: 'Observation',
      id: `obs-${++obsNo}`,
      status,
      category: LAB_CATEGORY,
      code: concept(LOINC, s.code, s.display, s.text),
      subject,
      effectiveDateTime: iso(t),
      issued: iso(t + 2 * 3_600_000),
      valueQuantity: quantity(value, s.unit, s.ucum),
      interpretation: [concept(V3_INTERPRETATION, interpretation, interpretation === 'L' ? 'Low' : interpretation === 'H' ? 'High' : 'Normal')],
      referenceRange: [{ ...(s.low !== undefined ? { low: quantity(s.low, s.unit, s.ucum) } : {}), ...(s.high !== undefined ? { high: quantity(s.high, s.unit, s.ucum) } : {}) }],
    };
  };

  // The fixed admission panel (9 and 3 days ago): every routine test, so the acute coagulation group is done.
  for (const d of [9, 3]) for (const s of SERIES) {
    const { mean, sd } = s.value(d);
    resources.push(labObservation(s, daysAgo(d, 6), round(gaussian(random, mean, sd), s.decimals), 'final'));
  }
  const fixedLabs = SERIES.length * 2;

  // The series: uniform over `years`, each test drawn by its weight.
  const totalWeight = SERIES.reduce((sum, s) => sum + s.weight, 0);
  for (let i = fixedLabs; i < seriesObservations; i++) {
    let pick = random() * totalWeight;
    let s = SERIES[0] as LabSeries;
    for (const candidate of SERIES) {
      pick -= candidate.weight;
      if (pick < 0) {
        s = candidate;
        break;
      }
    }
    const d = 1 + random() * (years * 365 - 1);
    const { mean, sd } = s.value(d);
    resources.push(labObservation(s, daysAgo(d, 24), Math.max(0, round(gaussian(random, mean, sd), s.decimals)), pickStatus(random)));
  }

  // Serologies of the work-up: ANCA (MPO, PR3) negative, ANA negative (lupus group done).
  const serology = (code: string, display: string, text: string, d: number, value: number, high: number, unit: string): Observation => ({
    resourceType: 'Observation',
    id: `obs-${++obsNo}`,
    status: 'final',
    category: LAB_CATEGORY,
    code: concept(LOINC, code, display, text),
    subject,
    effectiveDateTime: iso(daysAgo(d)),
    valueQuantity: quantity(value, unit, unit),
    interpretation: [concept(V3_INTERPRETATION, 'N', 'Normal')],
    referenceRange: [{ high: quantity(high, unit, unit) }],
  });
  resources.push(
    serology('6969-0', 'Myeloperoxidase Ab [Units/volume] in Serum', 'MPO-ANCA', 8, 1.2, 3.5, '[IU]/mL'),
    serology('6968-2', 'Proteinase 3 Ab [Units/volume] in Serum', 'PR3-ANCA', 8, 0.8, 2, '[IU]/mL'),
    {
      resourceType: 'Observation',
      id: `obs-${++obsNo}`,
      status: 'final',
      category: LAB_CATEGORY,
      code: concept(LOINC, '8061-4', 'Nuclear Ab [Presence] in Serum', 'ANA'),
      subject,
      effectiveDateTime: iso(daysAgo(8)),
      valueCodeableConcept: concept(SNOMED, '260385009', 'Negative'),
    },
  );

  // Imaging reports: an old chest x-ray, and the recent chest CT with the infiltrate as conclusion.
  const report = (id: string, code: string, display: string, d: number, conclusion?: CodeableConcept): DiagnosticReport => ({
    resourceType: 'DiagnosticReport',
    id,
    status: 'final',
    category: [concept('http://loinc.org', 'LP29684-5', 'Radiology')],
    code: concept(LOINC, code, display),
    subject,
    effectiveDateTime: iso(daysAgo(d)),
    issued: iso(daysAgo(d)),
    ...(conclusion ? { conclusionCode: [conclusion], conclusion: conclusion.text } : {}),
  });
  resources.push(
    report('rep-1', '36643-5', 'XR Chest 2 Views', 400),
    report('rep-2', '24627-2', 'CT Chest', 10, concept(SNOMED, '409609008', 'Radiologic infiltrate of lung', 'Bilateral patchy infiltrates')),
  );

  const echo: Procedure = {
    resourceType: 'Procedure',
    id: 'proc-1',
    status: 'completed',
    code: concept(SNOMED, '40701008', 'Echocardiography'),
    subject,
    performedDateTime: iso(daysAgo(9)),
  };
  resources.push(echo);

  const order = (id: string, code: string, display: string, d: number, status: ServiceRequest['status']): ServiceRequest => ({
    resourceType: 'ServiceRequest',
    id,
    status,
    intent: 'order',
    code: concept(LOINC, code, display),
    subject,
    authoredOn: iso(daysAgo(d)),
  });
  resources.push(
    order('sr-1', '30343-8', 'Glomerular basement membrane Ab.IgG [Units/volume] in Serum', 2, 'active'),
    order('sr-2', '718-7', 'Hemoglobin [Mass/volume] in Blood', 1, 'active'),
    order('sr-3', '2276-4', 'Ferritin [Mass/volume] in Serum or Plasma', 200, 'completed'),
  );

  const counts: Record<string, number> = {};
  for (const r of resources) counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
  return { patientId, resources, counts };
}

/** What the bench needs from the built service to answer the prefetch queries like a FHIR server. */
export interface SearchModules {
  searchResources: typeof SearchResourcesFn;
  renderPrefetchTemplate: typeof RenderPrefetchTemplateFn;
}

/**
 * The patient-view request a client would send: each prefetch query run against the chart (as the
 * EHR's FHIR server would answer it, absolute fullUrls), except medicationRequests, which the client
 * could not read (an OperationOutcome: the data-unavailable card).
 */
export function buildHookRequest(service: ServiceDefinition, patient: SyntheticPatient, search: SearchModules): HookRequest {
  const request: HookRequest = {
    hook: service.hook,
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    fhirServer: FHIR_BASE,
    context: { userId: 'Practitioner/bench-clinician', patientId: patient.patientId },
  };
  const prefetch: Record<string, FhirResource | null> = {};
  for (const [key, def] of Object.entries(service.prefetch)) {
    if (key === 'medicationRequests') {
      const outcome: OperationOutcome = {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'timeout', diagnostics: 'Medication list service did not answer' }],
      };
      prefetch[key] = outcome;
      continue;
    }
    const query = search.renderPrefetchTemplate(def.query, request);
    if (!query) throw new Error(`prefetch template of ${key} does not render`);
    const result = search.searchResources(patient.resources, query);
    if (result.status === 404) {
      prefetch[key] = null;
      continue;
    }
    if (result.status !== 200) throw new Error(`prefetch query of ${key} fails on the synthetic chart: ${JSON.stringify(result.body)}`);
    const body = result.body;
    if (body.resourceType === 'Bundle') {
      const bundle: Bundle = { ...body, entry: (body.entry ?? []).map((e) => ({ ...e, fullUrl: `${FHIR_BASE}/${e.fullUrl ?? ''}` })) };
      prefetch[key] = bundle;
    } else {
      prefetch[key] = body;
    }
  }
  return { ...request, prefetch };
}

/** Resources per prefetch key of a request (Bundle entries, or 1 for a single resource). */
export function countPrefetched(request: HookRequest): number {
  let n = 0;
  for (const value of Object.values(request.prefetch ?? {})) {
    if (!value || value.resourceType === 'OperationOutcome') continue;
    n += value.resourceType === 'Bundle' ? (value.entry?.length ?? 0) : 1;
  }
  return n;
}
