// The app's SMART registration: the client id an EHR registers, and the patient-level read-only scopes it asks for
// (one per resource type the patient-view definitions read).
export const CLIENT_ID = 'iph-cds-workup';

export const SCOPES = [
  'launch',
  'launch/patient',
  'patient/Patient.read',
  'patient/Condition.read',
  'patient/Observation.read',
  'patient/DiagnosticReport.read',
  'patient/Procedure.read',
  'patient/ServiceRequest.read',
  'patient/NutritionOrder.read',
  'patient/MedicationRequest.read',
].join(' ');
