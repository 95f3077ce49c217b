// launch.html: starts SMART App Launch with fhirclient. EHR launch: the EHR (or the CDS Hooks sandbox) opens
// launch.html?launch=...&iss=...; standalone: launch.html?iss=<FHIR base>[&patient=<id>] (patient for open servers,
// which have no authorization server to pick one). fhirclient reads iss and launch from the URL itself.
import FHIR from 'fhirclient';
import { CLIENT_ID, SCOPES } from './smart';

const params = new URLSearchParams(window.location.search);
const patient = params.get('patient');
const status = document.getElementById('status');

if (!params.get('iss') && !params.get('fhirServiceUrl')) {
  if (status) status.textContent = 'Open this app from the EHR, or add ?iss=<FHIR server base URL> to the address.';
} else {
  FHIR.oauth2
    .authorize({
      clientId: CLIENT_ID,
      scope: SCOPES,
      redirectUri: 'index.html',
      pkceMode: 'ifSupported',
      ...(patient && /^[A-Za-z0-9\-.]{1,64}$/.test(patient) ? { patientId: patient } : {}),
    })
    .catch((e: unknown) => {
      if (status) status.textContent = `The launch failed: ${e instanceof Error ? e.message : String(e)}`;
    });
}
