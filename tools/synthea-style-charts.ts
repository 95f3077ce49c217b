// `npm run synthea:charts`: writes fixtures/synthea/*.json, deterministic (seeded) R4 patient Bundles shaped like
// Synthea's output (yearly wellness encounters with vital signs and lab panels, problem-list Conditions, ordinary
// procedures, immunizations, medications) for ordinary patients on whom no IPH card may fire.
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Coding, FhirResource, Observation, ObservationComponent } from 'fhir/r4';
// The bench's seeded PRNG (mulberry32), so every run writes the same charts.
import { createRandom } from '../bench/synthetic-patient';

/** The chart's "today": the tests pin the server clock here. */
export const CHART_NOW = '2026-06-15T12:00:00Z';
const NOW_MS = Date.parse(CHART_NOW);
const DAY = 86_400_000;

const LOINC = 'http://loinc.org';
const SCT = 'http://snomed.info/sct';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const CVX = 'http://hl7.org/fhir/sid/cvx';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';

interface Analyte {
  code: string;
  display: string;
  unit: string;
  mean: number;
  sd: number;
  decimals: number;
}

const VITALS: Analyte[] = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', mean: 74, sd: 6, decimals: 0 },
  { code: '9279-1', display: 'Respiratory rate', unit: '/min', mean: 15, sd: 1.5, decimals: 0 },
];
/** CBC panel members (58410-2), Synthea's codes; hemoglobin and platelets are set per patient. */
const CBC: Analyte[] = [
  { code: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', unit: '10*3/uL', mean: 7.2, sd: 1.2, decimals: 1 },
  { code: '789-8', display: 'Erythrocytes [#/volume] in Blood by Automated count', unit: '10*6/uL', mean: 4.6, sd: 0.25, decimals: 2 },
  { code: '4544-3', display: 'Hematocrit [Volume Fraction] of Blood by Automated count', unit: '%', mean: 41, sd: 2, decimals: 1 },
  { code: '787-2', display: 'MCV [Entitic volume] by Automated count', unit: 'fL', mean: 89, sd: 3, decimals: 1 },
  { code: '785-6', display: 'MCH [Entitic mass] by Automated count', unit: 'pg', mean: 29.5, sd: 1, decimals: 1 },
  { code: '786-4', display: 'MCHC [Mass/volume] by Automated count', unit: 'g/dL', mean: 33.5, sd: 0.8, decimals: 1 },
  { code: '21000-5', display: 'Erythrocyte distribution width [Entitic volume] by Automated count', unit: 'fL', mean: 43, sd: 2, decimals: 1 },
];
/** Basic metabolic panel (51990-0) members as Synthea records them (blood, not serum, codes). */
const BMP: Analyte[] = [
  { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL', mean: 92, sd: 8, decimals: 1 },
  { code: '6299-2', display: 'Urea nitrogen [Mass/volume] in Blood', unit: 'mg/dL', mean: 14, sd: 3, decimals: 1 },
  { code: '49765-1', display: 'Calcium [Mass/volume] in Blood', unit: 'mg/dL', mean: 9.4, sd: 0.3, decimals: 1 },
  { code: '2947-0', display: 'Sodium [Moles/volume] in Blood', unit: 'mmol/L', mean: 140, sd: 2, decimals: 0 },
  { code: '6298-4', display: 'Potassium [Moles/volume] in Blood', unit: 'mmol/L', mean: 4.2, sd: 0.3, decimals: 1 },
  { code: '2069-3', display: 'Chloride [Moles/volume] in Blood', unit: 'mmol/L', mean: 104, sd: 2, decimals: 0 },
  { code: '20565-8', display: 'Carbon dioxide, total [Moles/volume] in Blood', unit: 'mmol/L', mean: 25, sd: 2, decimals: 0 },
];
const LIPIDS: Analyte[] = [
  { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', mean: 190, sd: 20, decimals: 1 },
  { code: '2571-8', display: 'Triglycerides', unit: 'mg/dL', mean: 130, sd: 25, decimals: 1 },
  { code: '18262-6', display: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay', unit: 'mg/dL', mean: 110, sd: 15, decimals: 1 },
  { code: '2085-9', display: 'Cholesterol in HDL [Mass/volume] in Serum or Plasma', unit: 'mg/dL', mean: 55, sd: 8, decimals: 1 },
];

interface Problem {
  code: string;
  display: string;
  /** Days before CHART_NOW. */
  onsetDaysAgo: number;
  abatedDaysAgo?: number;
}

interface Series {
  code: string;
  display: string;
  unit: string;
  /** Value at each yearly visit, oldest first (the last one is the most recent visit); undefined: not measured. */
  values: (number | undefined)[];
}

export interface ChartProfile {
  name: string;
  seed: number;
  gender: 'male' | 'female';
  birthDate: string;
  given: string;
  family: string;
  /** Yearly wellness visits, the most recent `lastVisitDaysAgo` days ago. */
  years: number;
  lastVisitDaysAgo: number;
  hemoglobin: number[];
  platelets?: number[];
  creatinine?: number[];
  extraLabs?: Series[];
  problems: Problem[];
  procedures: { code: string; display: string; daysAgo: number }[];
  medications: { code: string; display: string; daysAgo: number }[];
  vaccines: { code: string; display: string }[];
  /** Extra problem encounters (acute visits) per year. */
  acuteVisitsPerYear: number;
  /** Follow-up laboratory visits between wellness visits: a hemoglobin and, when given, a ferritin. */
  rechecks?: { daysAgo: number; hemoglobin: number; ferritin?: number }[];
}

class ChartBuilder {
  private readonly resources: FhirResource[] = [];
  private n = 0;
  constructor(
    private readonly p: ChartProfile,
    private readonly rand: () => number,
  ) {}

  private id(prefix: string): string {
    this.n += 1;
    return `${this.p.name}-${prefix}-${this.n}`;
  }

  private iso(daysAgo: number, hour = 9): string {
    const d = new Date(NOW_MS - daysAgo * DAY);
    d.setUTCHours(hour, Math.floor(this.rand() * 60), 0, 0);
    return d.toISOString().replace('.000Z', 'Z');
  }

  private noise(a: Analyte): number {
    // Box-Muller from the seeded generator: values spread like a laboratory's, reproducibly.
    const u = Math.max(this.rand(), 1e-9);
    const v = this.rand();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Number((a.mean + z * a.sd).toFixed(a.decimals));
  }

  add(resource: FhirResource): void {
    this.resources.push(resource);
  }

  patientRef(): string {
    return `Patient/${this.p.name}`;
  }

  patient(): void {
    this.add({
      resourceType: 'Patient',
      id: this.p.name,
      name: [{ use: 'official', family: this.p.family, given: [this.p.given] }],
      gender: this.p.gender,
      birthDate: this.p.birthDate,
      address: [{ city: 'Springfield', state: 'Massachusetts', country: 'US' }],
      maritalStatus: { text: 'Never Married' },
    });
  }

  encounter(daysAgo: number, code: Coding, cls: string): { ref: string; when: string } {
    const id = this.id('enc');
    const when = this.iso(daysAgo);
    const end = new Date(Date.parse(when) + 30 * 60_000).toISOString().replace('.000Z', 'Z');
    this.add({
      resourceType: 'Encounter',
      id,
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: cls },
      type: [{ coding: [code], text: code.display }],
      subject: { reference: this.patientRef() },
      period: { start: when, end },
    });
    return { ref: `Encounter/${id}`, when };
  }

  observation(enc: { ref: string; when: string }, category: string, a: { code: string; display: string; unit: string }, value: number): string {
    const id = this.id('obs');
    const obs: Observation = {
      resourceType: 'Observation',
      id,
      status: 'final',
      category: [{ coding: [{ system: OBS_CAT, code: category, display: category === 'laboratory' ? 'Laboratory' : 'Vital signs' }] }],
      code: { coding: [{ system: LOINC, code: a.code, display: a.display }], text: a.display },
      subject: { reference: this.patientRef() },
      encounter: { reference: enc.ref },
      effectiveDateTime: enc.when,
      issued: enc.when.replace('Z', '.000Z'),
      valueQuantity: { value, unit: a.unit, system: 'http://unitsofmeasure.org', code: a.unit },
    };
    this.add(obs);
    return id;
  }

  panel(enc: { ref: string; when: string }, code: string, display: string, members: string[]): void {
    this.add({
      resourceType: 'DiagnosticReport',
      id: this.id('dr'),
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' }] }],
      code: { coding: [{ system: LOINC, code, display }], text: display },
      subject: { reference: this.patientRef() },
      encounter: { reference: enc.ref },
      effectiveDateTime: enc.when,
      issued: enc.when.replace('Z', '.000Z'),
      result: members.map((m) => ({ reference: `Observation/${m}`, display })),
    });
  }

  vitals(enc: { ref: string; when: string }, year: number): void {
    const adult = Date.parse(enc.when) - Date.parse(this.p.birthDate) > 18 * 365.25 * DAY;
    const height = adult ? (this.p.gender === 'male' ? 176 : 163) : 100 + year * 6;
    const weight = adult ? (this.p.gender === 'male' ? 84 : 68) + this.rand() * 3 : 16 + year * 2.5;
    this.observation(enc, 'vital-signs', { code: '8302-2', display: 'Body Height', unit: 'cm' }, Number(height.toFixed(1)));
    this.observation(enc, 'vital-signs', { code: '29463-7', display: 'Body Weight', unit: 'kg' }, Number(weight.toFixed(1)));
    this.observation(enc, 'vital-signs', { code: '39156-5', display: 'Body mass index (BMI) [Ratio]', unit: 'kg/m2' }, Number((weight / (height / 100) ** 2).toFixed(1)));
    for (const v of VITALS) this.observation(enc, 'vital-signs', v, this.noise(v));
    const bp: ObservationComponent[] = [
      { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic Blood Pressure' }] }, valueQuantity: { value: Math.round(76 + this.rand() * 8), unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic Blood Pressure' }] }, valueQuantity: { value: Math.round(118 + this.rand() * 14), unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
    ];
    this.add({
      resourceType: 'Observation',
      id: this.id('obs'),
      status: 'final',
      category: [{ coding: [{ system: OBS_CAT, code: 'vital-signs', display: 'Vital signs' }] }],
      code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }], text: 'Blood pressure panel with all children optional' },
      subject: { reference: this.patientRef() },
      encounter: { reference: enc.ref },
      effectiveDateTime: enc.when,
      component: bp,
    });
  }

  labs(enc: { ref: string; when: string }, i: number): void {
    const p = this.p;
    const cbc = CBC.map((a) => this.observation(enc, 'laboratory', a, this.noise(a)));
    cbc.splice(2, 0, this.observation(enc, 'laboratory', { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL' }, p.hemoglobin[i] as number));
    cbc.push(this.observation(enc, 'laboratory', { code: '777-3', display: 'Platelets [#/volume] in Blood by Automated count', unit: '10*3/uL' }, p.platelets?.[i] ?? Math.round(250 + this.rand() * 60)));
    this.panel(enc, '58410-2', 'CBC panel - Blood by Automated count', cbc);
    const bmp = BMP.map((a) => this.observation(enc, 'laboratory', a, this.noise(a)));
    bmp.splice(2, 0, this.observation(enc, 'laboratory', { code: '38483-4', display: 'Creatinine [Mass/volume] in Blood', unit: 'mg/dL' }, p.creatinine?.[i] ?? Number((0.8 + this.rand() * 0.3).toFixed(2))));
    this.panel(enc, '51990-0', 'Basic metabolic panel - Blood', bmp);
    if (Date.parse(enc.when) - Date.parse(p.birthDate) > 18 * 365.25 * DAY) {
      this.panel(enc, '57698-3', 'Lipid panel with direct LDL - Serum or Plasma', LIPIDS.map((a) => this.observation(enc, 'laboratory', a, this.noise(a))));
    }
    for (const s of p.extraLabs ?? []) {
      const v = s.values[i];
      if (v !== undefined) this.observation(enc, 'laboratory', s, v);
    }
  }

  condition(pr: Problem): void {
    const abated = pr.abatedDaysAgo !== undefined;
    this.add({
      resourceType: 'Condition',
      id: this.id('cond'),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: abated ? 'resolved' : 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis', display: 'Encounter Diagnosis' }] }],
      code: { coding: [{ system: SCT, code: pr.code, display: pr.display }], text: pr.display },
      subject: { reference: this.patientRef() },
      onsetDateTime: this.iso(pr.onsetDaysAgo),
      ...(abated ? { abatementDateTime: this.iso(pr.abatedDaysAgo as number) } : {}),
      recordedDate: this.iso(pr.onsetDaysAgo),
    });
  }

  procedure(code: string, display: string, daysAgo: number): void {
    const when = this.iso(daysAgo, 10);
    this.add({
      resourceType: 'Procedure',
      id: this.id('proc'),
      status: 'completed',
      code: { coding: [{ system: SCT, code, display }], text: display },
      subject: { reference: this.patientRef() },
      performedPeriod: { start: when, end: new Date(Date.parse(when) + 20 * 60_000).toISOString().replace('.000Z', 'Z') },
    });
  }

  medication(code: string, display: string, daysAgo: number): void {
    this.add({
      resourceType: 'MedicationRequest',
      id: this.id('med'),
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: RXNORM, code, display }], text: display },
      subject: { reference: this.patientRef() },
      authoredOn: this.iso(daysAgo),
      dosageInstruction: [{ text: 'Take as directed', route: { text: 'Oral' } }],
    });
  }

  immunization(enc: { ref: string; when: string }, code: string, display: string): void {
    this.add({
      resourceType: 'Immunization',
      id: this.id('imm'),
      status: 'completed',
      vaccineCode: { coding: [{ system: CVX, code, display }], text: display },
      patient: { reference: this.patientRef() },
      encounter: { reference: enc.ref },
      occurrenceDateTime: enc.when,
      primarySource: true,
    });
  }

  build(): Bundle {
    const p = this.p;
    this.patient();
    const childAtEnd = NOW_MS - Date.parse(p.birthDate) < 18 * 365.25 * DAY;
    const wellness: Coding = childAtEnd ? { system: SCT, code: '410620009', display: 'Well child visit (procedure)' } : { system: SCT, code: '162673000', display: 'General examination of patient (procedure)' };
    for (let i = 0; i < p.years; i++) {
      const daysAgo = p.lastVisitDaysAgo + (p.years - 1 - i) * 365;
      const enc = this.encounter(daysAgo, wellness, 'AMB');
      this.vitals(enc, i);
      this.labs(enc, i);
      for (const v of p.vaccines) this.immunization(enc, v.code, v.display);
      for (let k = 0; k < p.acuteVisitsPerYear; k++) {
        const acute = this.encounter(daysAgo + 60 + k * 90, { system: SCT, code: '185345009', display: 'Encounter for symptom (procedure)' }, 'AMB');
        for (const v of VITALS) this.observation(acute, 'vital-signs', v, this.noise(v));
      }
    }
    for (const r of p.rechecks ?? []) {
      const enc = this.encounter(r.daysAgo, { system: SCT, code: '185349003', display: 'Encounter for check up (procedure)' }, 'AMB');
      this.observation(enc, 'laboratory', { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL' }, r.hemoglobin);
      if (r.ferritin !== undefined) this.observation(enc, 'laboratory', { code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma', unit: 'ng/mL' }, r.ferritin);
    }
    for (const pr of p.problems) this.condition(pr);
    for (const pr of p.procedures) this.procedure(pr.code, pr.display, pr.daysAgo);
    for (const m of p.medications) this.medication(m.code, m.display, m.daysAgo);
    return { resourceType: 'Bundle', type: 'collection', entry: this.resources.map((resource) => ({ fullUrl: `urn:uuid:${resource.id}`, resource })) };
  }
}

export function buildChart(profile: ChartProfile): Bundle {
  if (profile.hemoglobin.length !== profile.years) throw new Error(`${profile.name}: one hemoglobin per yearly visit expected`);
  return new ChartBuilder(profile, createRandom(profile.seed)).build();
}

const FLU = { code: '140', display: 'Influenza, seasonal, injectable, preservative free' };

/** Ordinary patients (dated against CHART_NOW): nothing in them is a reason for an IPH card. */
export const PROFILES: ChartProfile[] = [
  {
    // Pregnant (Synthea's "Normal pregnancy"), hemoglobin 11.2-11.6 g/dL: normal for pregnancy (cut-off 11.0),
    // low only against the non-pregnant 12.0; a viral sinusitis with cough last winter.
    name: 'synthea-pregnant-woman',
    seed: 11,
    gender: 'female',
    birthDate: '1997-03-02',
    given: 'Maria',
    family: 'Okafor',
    years: 6,
    lastVisitDaysAgo: 20,
    hemoglobin: [13.1, 12.9, 13.3, 12.8, 12.6, 11.2],
    problems: [
      { code: '72892002', display: 'Normal pregnancy (finding)', onsetDaysAgo: 150 },
      { code: '444814009', display: 'Viral sinusitis (disorder)', onsetDaysAgo: 200, abatedDaysAgo: 188 },
      { code: '49727002', display: 'Cough (finding)', onsetDaysAgo: 200, abatedDaysAgo: 190 },
    ],
    procedures: [{ code: '399208008', display: 'Plain X-ray of chest (procedure)', daysAgo: 900 }],
    medications: [],
    vaccines: [FLU],
    acuteVisitsPerYear: 2,
    extraLabs: [{ code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma', unit: 'ng/mL', values: [60, 55, 62, 58, 51, 38] }],
  },
  {
    // Chronic congestive heart failure as Synthea codes it (88805009), dyspnea, a mildly low hemoglobin for a man,
    // creatinine in blood (38483-4), NT-proBNP, chest radiographs and echocardiography as Procedures.
    name: 'synthea-heart-failure',
    seed: 22,
    gender: 'male',
    birthDate: '1953-09-14',
    given: 'Walter',
    family: 'Brennan',
    years: 8,
    lastVisitDaysAgo: 35,
    hemoglobin: [14.2, 14.0, 13.8, 13.6, 13.4, 13.1, 12.8, 12.6],
    creatinine: [1.0, 1.05, 1.1, 1.12, 1.2, 1.25, 1.3, 1.36],
    extraLabs: [{ code: '33762-6', display: 'Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma', unit: 'pg/mL', values: [undefined, undefined, undefined, undefined, undefined, 640, 910, 1280] }],
    problems: [
      { code: '59621000', display: 'Essential hypertension (disorder)', onsetDaysAgo: 4000 },
      { code: '88805009', display: 'Chronic congestive heart failure (disorder)', onsetDaysAgo: 800 },
      { code: '267036007', display: 'Dyspnea (finding)', onsetDaysAgo: 60 },
      { code: '15777000', display: 'Prediabetes (finding)', onsetDaysAgo: 2500 },
    ],
    procedures: [
      { code: '29303009', display: 'Electrocardiographic procedure (procedure)', daysAgo: 800 },
      { code: '40701008', display: 'Echocardiography (procedure)', daysAgo: 790 },
      { code: '399208008', display: 'Plain X-ray of chest (procedure)', daysAgo: 790 },
      { code: '762998009', display: 'Assessment using New York Heart Association Classification (procedure)', daysAgo: 790 },
      { code: '399208008', display: 'Plain X-ray of chest (procedure)', daysAgo: 40 },
      { code: '430193006', display: 'Medication reconciliation (procedure)', daysAgo: 35 },
    ],
    medications: [
      { code: '314076', display: 'lisinopril 10 MG Oral Tablet', daysAgo: 790 },
      { code: '1719286', display: '10 ML Furosemide 10 MG/ML Injection', daysAgo: 40 },
    ],
    vaccines: [FLU],
    acuteVisitsPerYear: 2,
  },
  {
    // A 7-year-old with iron deficiency anemia (low hemoglobin and ferritin on two visits a year apart) and no
    // respiratory finding and no growth failure: persistent iron deficiency alone is not a reason for a card.
    name: 'synthea-anemic-child',
    seed: 33,
    gender: 'female',
    birthDate: '2019-01-20',
    given: 'Lily',
    family: 'Nguyen',
    years: 5,
    lastVisitDaysAgo: 30,
    hemoglobin: [11.9, 12.1, 11.8, 10.9, 10.8],
    extraLabs: [{ code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma', unit: 'ng/mL', values: [30, 28, 25, 10, 9] }],
    problems: [
      { code: '271737000', display: 'Anemia (disorder)', onsetDaysAgo: 395 },
      { code: '195662009', display: 'Acute viral pharyngitis (disorder)', onsetDaysAgo: 120, abatedDaysAgo: 112 },
      { code: '65363002', display: 'Otitis media (disorder)', onsetDaysAgo: 700, abatedDaysAgo: 690 },
    ],
    procedures: [],
    medications: [],
    vaccines: [FLU, { code: '03', display: 'MMR' }],
    acuteVisitsPerYear: 2,
    rechecks: [{ daysAgo: 150, hemoglobin: 10.7, ferritin: 8 }],
  },
  {
    // An 84-year-old woman: hypertension, type 2 diabetes, chronic kidney disease-range creatinine in blood, mild
    // anemia, an acute bronchitis with cough this spring, a chest radiograph.
    name: 'synthea-elderly',
    seed: 44,
    gender: 'female',
    birthDate: '1942-05-05',
    given: 'Edith',
    family: 'Larsen',
    years: 10,
    lastVisitDaysAgo: 25,
    hemoglobin: [12.8, 12.7, 12.6, 12.4, 12.3, 12.1, 12.0, 11.9, 11.8, 11.6],
    creatinine: [1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4, 1.48],
    extraLabs: [{ code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', values: [6.0, 6.1, 6.3, 6.6, 6.8, 7.0, 7.1, 7.0, 7.2, 7.1] }],
    problems: [
      { code: '59621000', display: 'Essential hypertension (disorder)', onsetDaysAgo: 6000 },
      { code: '15777000', display: 'Prediabetes (finding)', onsetDaysAgo: 3600, abatedDaysAgo: 2400 },
      { code: '44054006', display: 'Diabetes mellitus type 2 (disorder)', onsetDaysAgo: 2400 },
      { code: '271737000', display: 'Anemia (disorder)', onsetDaysAgo: 500 },
      { code: '10509002', display: 'Acute bronchitis (disorder)', onsetDaysAgo: 70, abatedDaysAgo: 55 },
      { code: '49727002', display: 'Cough (finding)', onsetDaysAgo: 70, abatedDaysAgo: 55 },
    ],
    procedures: [
      { code: '399208008', display: 'Plain X-ray of chest (procedure)', daysAgo: 68 },
      { code: '430193006', display: 'Medication reconciliation (procedure)', daysAgo: 25 },
    ],
    medications: [
      { code: '314076', display: 'lisinopril 10 MG Oral Tablet', daysAgo: 3000 },
      { code: '860975', display: '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet', daysAgo: 2400 },
    ],
    vaccines: [FLU],
    acuteVisitsPerYear: 3,
  },
  {
    // A 34-year-old woman with iron deficiency anemia (heavy menstrual bleeding), fatigue and exertional dyspnea,
    // on iron: no hemoptysis and no chest finding, so neither arm of iph-evaluation applies.
    name: 'synthea-adult-iron-deficiency',
    seed: 55,
    gender: 'female',
    birthDate: '1992-02-11',
    given: 'Sofia',
    family: 'Reyes',
    years: 5,
    lastVisitDaysAgo: 40,
    hemoglobin: [12.6, 12.4, 12.2, 11.4, 10.6],
    extraLabs: [{ code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma', unit: 'ng/mL', values: [35, 30, 22, 12, 7] }],
    rechecks: [{ daysAgo: 130, hemoglobin: 10.9, ferritin: 9 }],
    problems: [
      { code: '87522002', display: 'Iron deficiency anemia (disorder)', onsetDaysAgo: 130 },
      { code: '84229001', display: 'Fatigue (finding)', onsetDaysAgo: 140 },
      { code: '267036007', display: 'Dyspnea (finding)', onsetDaysAgo: 140 },
      { code: '444814009', display: 'Viral sinusitis (disorder)', onsetDaysAgo: 400, abatedDaysAgo: 390 },
    ],
    procedures: [],
    medications: [],
    vaccines: [FLU],
    acuteVisitsPerYear: 2,
  },
];

// Run from source (tests) the file sits in tools/; compiled, in dist-tools/tools/.
const ROOT = fs.existsSync(path.join(__dirname, '..', 'package.json')) ? path.join(__dirname, '..') : path.join(__dirname, '..', '..');
export const CHART_DIR = path.join(ROOT, 'fixtures', 'synthea');

export function main(): void {
  fs.mkdirSync(CHART_DIR, { recursive: true });
  for (const p of PROFILES) {
    const bundle = buildChart(p);
    fs.writeFileSync(path.join(CHART_DIR, `${p.name}.json`), `${JSON.stringify(bundle)}\n`);
    process.stdout.write(`${p.name}: ${bundle.entry?.length ?? 0} resources\n`);
  }
}

if (require.main === module) main();
