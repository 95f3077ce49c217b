// Types of a CDS Hooks 2.0 hook request as this service reads it (after validation).
import type { Bundle, FhirResource } from 'fhir/r4';

export type HookName = 'patient-view' | 'order-select' | 'order-sign';

export interface FhirAuthorization {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  subject: string;
  patient?: string;
}

export interface HookContext {
  userId: string;
  patientId: string;
  encounterId?: string;
  selections?: string[];
  draftOrders?: Bundle;
  [key: string]: unknown;
}

export interface HookRequest {
  hook: string;
  hookInstance: string;
  fhirServer?: string;
  fhirAuthorization?: FhirAuthorization;
  context: HookContext;
  prefetch?: Record<string, FhirResource | null>;
  extension?: Record<string, unknown>;
}
