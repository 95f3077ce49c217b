// Logger: secrets and PHI never reach the log output; LOG_LEVEL parsing.
import type { DestinationStream } from 'pino';
import { createLogger, readLogLevel, REDACT_CENSOR } from '../src/logger';

function memoryStream(): DestinationStream & { lines: string[]; text(): string } {
  const lines: string[] = [];
  return {
    lines,
    write(msg: string) {
      lines.push(msg);
    },
    text() {
      return lines.join('');
    },
  };
}

const JWT = 'eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2lnbmF0dXJlLXNlY3JldA';
const ACCESS_TOKEN = 'fhir-access-token-0123456789';
const PATIENT_NAME = 'Jessamine Q. Testpatient';
const PATIENT_ID = 'pat-7731-secret';
const MRN = 'MRN-55501234';

function hookRequest() {
  return {
    hook: 'patient-view',
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    fhirServer: 'https://fhir.example.org/r4',
    fhirAuthorization: { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'cds' },
    context: { userId: 'Practitioner/1', patientId: PATIENT_ID },
    prefetch: {
      patient: { resourceType: 'Patient', id: PATIENT_ID, name: [{ text: PATIENT_NAME }], identifier: [{ value: MRN }] },
    },
  };
}

describe('createLogger redaction', () => {
  const secrets = [JWT, ACCESS_TOKEN, PATIENT_NAME, PATIENT_ID, MRN];

  it('hides the bearer token in request headers, fhirAuthorization, prefetch and context of a logged request', () => {
    const out = memoryStream();
    const log = createLogger({ destination: out });
    log.info(
      {
        req: { method: 'POST', url: '/cds-services/iph-patient-view', headers: { authorization: `Bearer ${JWT}`, host: 'cds.test' } },
        body: hookRequest(),
      },
      'hook call',
    );
    const text = out.text();
    for (const s of secrets) expect(text).not.toContain(s);
    const entry = JSON.parse(text) as {
      req: { headers: { authorization: string; host: string } };
      body: { hookInstance: string; fhirAuthorization: unknown; prefetch: unknown; context: unknown };
      msg: string;
    };
    expect(entry.req.headers.authorization).toBe(REDACT_CENSOR);
    expect(entry.body.fhirAuthorization).toBe(REDACT_CENSOR);
    expect(entry.body.prefetch).toBe(REDACT_CENSOR);
    expect(entry.body.context).toBe(REDACT_CENSOR);
    // Useful, non-sensitive fields survive.
    expect(entry.req.headers.host).toBe('cds.test');
    expect(entry.body.hookInstance).toBe('d1577c69-dfbe-44ad-ba6d-3e05e953b2ea');
    expect(entry.msg).toBe('hook call');
  });

  it('hides sensitive keys at the top level and two levels down', () => {
    const out = memoryStream();
    const log = createLogger({ destination: out });
    const body = hookRequest();
    log.warn({ token: JWT, authorization: `Bearer ${JWT}`, prefetch: body.prefetch, context: body.context });
    log.warn({ req: { body } });
    log.warn({ fetch: { options: { access_token: ACCESS_TOKEN } } });
    expect(out.lines).toHaveLength(3);
    const text = out.text();
    for (const s of secrets) expect(text).not.toContain(s);
  });

  it('does not mutate the logged object', () => {
    const log = createLogger({ destination: memoryStream() });
    const body = hookRequest();
    log.info({ body });
    expect(body.fhirAuthorization.access_token).toBe(ACCESS_TOKEN);
    expect(body.prefetch.patient.id).toBe(PATIENT_ID);
  });

  it('honours the level, including silent', () => {
    const out = memoryStream();
    createLogger({ level: 'warn', destination: out }).info('dropped');
    expect(out.lines).toHaveLength(0);
    createLogger({ level: 'silent', destination: out }).fatal('dropped too');
    expect(out.lines).toHaveLength(0);
    createLogger({ destination: out }).info('kept');
    expect(out.lines).toHaveLength(1);
  });
});

describe('readLogLevel', () => {
  it('defaults to info', () => {
    expect(readLogLevel({})).toBe('info');
    expect(readLogLevel({ LOG_LEVEL: '' })).toBe('info');
  });

  it('accepts pino levels and silent, case-insensitively', () => {
    expect(readLogLevel({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(readLogLevel({ LOG_LEVEL: 'silent' })).toBe('silent');
    expect(readLogLevel({ LOG_LEVEL: 'WARN' })).toBe('warn');
  });

  it('throws on an unknown level', () => {
    expect(() => readLogLevel({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of/);
  });
});
