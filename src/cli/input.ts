// Reads the CLI's input: FHIR R4 Bundles (JSON) and the NDJSON files of a Bulk Data export (files or folders), and
// groups the resources by patient. Resources that name no patient (Medication, ...) are shared by every patient.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { FhirResource } from 'fhir/r4';

/** Bad input: the CLI prints the message and exits 2. */
export class InputError extends Error {}

export interface PatientResources {
  patientId: string;
  resources: FhirResource[];
}

export interface ReadInput {
  patients: PatientResources[];
  /** True when any input was NDJSON (a bulk export): progress bar, worker threads, summary. */
  bulk: boolean;
}

// A Bundle file is parsed whole; far above a real chart, it keeps one bad file from exhausting memory.
const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;
// One NDJSON line is one resource.
const MAX_LINE_CHARS = 64 * 1024 * 1024;
const PATIENT_REF = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/;

function isResource(value: unknown): value is FhirResource {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { resourceType?: unknown }).resourceType === 'string';
}

/** The patient a resource belongs to: its own id for a Patient, else subject/patient reference. */
export function patientOf(resource: FhirResource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const r = resource as { subject?: { reference?: unknown }; patient?: { reference?: unknown } };
  const ref = r.subject?.reference ?? r.patient?.reference;
  return typeof ref === 'string' ? PATIENT_REF.exec(ref)?.[1] : undefined;
}

function expandPaths(inputs: string[]): { bundles: string[]; ndjson: string[] } {
  const bundles: string[] = [];
  const ndjson: string[] = [];
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch {
      throw new InputError(`${input}: no such file or folder`);
    }
    if (stat.isDirectory()) {
      const files = fs.readdirSync(input).filter((f) => f.endsWith('.ndjson')).sort();
      if (files.length === 0) throw new InputError(`${input}: a folder must hold the .ndjson files of a Bulk Data export`);
      ndjson.push(...files.map((f) => path.join(input, f)));
    } else if (input.endsWith('.ndjson')) ndjson.push(input);
    else bundles.push(input);
  }
  return { bundles, ndjson };
}

function readBundle(file: string): FhirResource[] {
  if (fs.statSync(file).size > MAX_BUNDLE_BYTES) throw new InputError(`${file}: larger than ${MAX_BUNDLE_BYTES / 1024 / 1024} MB`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: not JSON (${e instanceof Error ? e.message : String(e)}); give a FHIR R4 Bundle or .ndjson files`);
  }
  if (!isResource(parsed)) throw new InputError(`${file}: not a FHIR resource (no resourceType)`);
  if (parsed.resourceType !== 'Bundle') throw new InputError(`${file}: a ${parsed.resourceType}, not a Bundle`);
  const entries = Array.isArray(parsed.entry) ? parsed.entry : [];
  return entries.map((e, i) => {
    if (!isResource(e?.resource)) throw new InputError(`${file}: entry ${i} has no FHIR resource`);
    return e.resource;
  });
}

async function readNdjson(file: string, out: FhirResource[]): Promise<void> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    if (line.length > MAX_LINE_CHARS) throw new InputError(`${file}:${n}: line longer than ${MAX_LINE_CHARS} characters`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new InputError(`${file}:${n}: not a JSON line (NDJSON holds one FHIR resource per line)`);
    }
    if (!isResource(parsed)) throw new InputError(`${file}:${n}: not a FHIR resource (no resourceType)`);
    out.push(parsed);
  }
}

/** Every patient of the inputs, in order of first appearance, each with its own resources plus the shared ones. */
export async function readInput(inputs: string[]): Promise<ReadInput> {
  const { bundles, ndjson } = expandPaths(inputs);
  const all: FhirResource[] = [];
  for (const file of bundles) all.push(...readBundle(file));
  for (const file of ndjson) await readNdjson(file, all);
  const byPatient = new Map<string, FhirResource[]>();
  const shared: FhirResource[] = [];
  for (const resource of all) {
    if (resource.resourceType === 'Patient' && resource.id === undefined) throw new InputError('a Patient resource has no id');
    const patient = patientOf(resource);
    if (patient === undefined) {
      shared.push(resource);
      continue;
    }
    let list = byPatient.get(patient);
    if (!list) byPatient.set(patient, (list = []));
    list.push(resource);
  }
  const patients = [...byPatient.entries()]
    .filter(([, resources]) => resources.some((r) => r.resourceType === 'Patient'))
    .map(([patientId, resources]) => ({ patientId, resources: [...resources, ...shared] }));
  if (patients.length === 0) throw new InputError('no Patient resource in the input');
  return { patients, bulk: ndjson.length > 0 };
}
