// Trusted-client settings (CDS Hooks 2.0 §Trusting CDS Clients): CDS_AUTH, CDS_TRUSTED_CLIENTS (the trusted-clients
// file, validated with all its problems at start-up) and CDS_PUBLIC_URL.
import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import type { JSONWebKeySet } from 'jose';
import { createSchemaAjv, describeProblem } from '../schema';

export interface TrustedClient {
  iss: string;
  jwksUrl?: string;
  jwks?: JSONWebKeySet;
  allowedJku?: string[];
  tenants?: string[];
}

export type AuthMode = 'jwt' | 'off';

export interface AuthSettings {
  mode: AuthMode;
  clients: TrustedClient[];
  publicUrl?: string;
}

const httpUrlPattern = '^https?://[^\\s/?#]+[^\\s#]*$';

const trustedClientsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['clients'],
  properties: {
    clients: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['iss'],
        properties: {
          iss: { type: 'string', minLength: 1 },
          jwksUrl: { type: 'string', format: 'uri', pattern: httpUrlPattern },
          jwks: {
            type: 'object',
            required: ['keys'],
            properties: {
              keys: {
                type: 'array',
                minItems: 1,
                items: {
                  type: 'object',
                  required: ['kty', 'kid'],
                  properties: {
                    // Public asymmetric keys only: an 'oct' key or private members here are configuration mistakes.
                    kty: { enum: ['EC', 'RSA'] },
                    kid: { type: 'string', minLength: 1 },
                  },
                  not: { anyOf: [{ required: ['d'] }, { required: ['p'] }, { required: ['k'] }] },
                },
              },
            },
          },
          allowedJku: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { type: 'string', format: 'uri', pattern: httpUrlPattern },
          },
          tenants: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
        },
        oneOf: [{ required: ['jwksUrl'] }, { required: ['jwks'] }],
      },
    },
  },
} as const;

// strictRequired off: the oneOf/not branches name properties declared by the parent schema.
/** Compiled once per read of the settings (start-up), not at import. */
function compileTrustedClientsSchema() {
  return createSchemaAjv({ strict: true }).compile<{ clients: TrustedClient[] }>(trustedClientsSchema);
}

/** ajv's own oneOf output ("must have required property ..." per branch + "must match exactly one schema") is noise. */
function formatSchemaErrors(errors: ErrorObject[]): string[] {
  const messages: string[] = [];
  for (const e of errors) {
    if (e.schemaPath.includes('/oneOf/')) continue;
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    if (e.keyword === 'oneOf') messages.push(`${where}: must have exactly one of "jwksUrl" or "jwks"`);
    else if (e.keyword === 'not' && e.instancePath.includes('/jwks/keys/')) messages.push(`${where}: must be a public key (no "d", "p" or "k")`);
    else messages.push(`${where}: ${describeProblem(e)}`);
  }
  return messages;
}

function readTrustedClients(path: string): TrustedClient[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`CDS_TRUSTED_CLIENTS: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`CDS_TRUSTED_CLIENTS: ${path} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problems: string[] = [];
  const validateTrustedClientsFile = compileTrustedClientsSchema();
  if (!validateTrustedClientsFile(data)) {
    problems.push(...formatSchemaErrors(validateTrustedClientsFile.errors ?? []));
  } else {
    const seen = new Set<string>();
    data.clients.forEach((c, i) => {
      if (seen.has(c.iss)) problems.push(`/clients/${i}/iss: duplicate issuer "${c.iss}"`);
      seen.add(c.iss);
    });
  }
  if (problems.length > 0) {
    throw new Error(`CDS_TRUSTED_CLIENTS: ${path} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return (data as { clients: TrustedClient[] }).clients.map((c) => Object.freeze({ ...c }));
}

function readPublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`CDS_PUBLIC_URL must be an absolute URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`CDS_PUBLIC_URL must be http(s), got "${value}"`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new Error(`CDS_PUBLIC_URL must not carry credentials, a query or a fragment, got "${value}"`);
  }
  // The audience is built as publicUrl + request path, so the origin must be kept exactly as clients spell it.
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** Reads CDS_AUTH, CDS_TRUSTED_CLIENTS and CDS_PUBLIC_URL; throws on any bad value. */
export function readAuthSettings(env: NodeJS.ProcessEnv): AuthSettings {
  const rawMode = env.CDS_AUTH?.trim() ?? '';
  let mode: AuthMode;
  if (rawMode === '') mode = env.NODE_ENV === 'production' ? 'jwt' : 'off';
  else if (rawMode === 'jwt' || rawMode === 'off') mode = rawMode;
  else throw new Error(`CDS_AUTH must be "jwt" or "off", got "${rawMode}"`);

  const clientsPath = env.CDS_TRUSTED_CLIENTS?.trim() ?? '';
  if (mode === 'jwt' && clientsPath === '') {
    throw new Error(
      'CDS_AUTH is "jwt"' +
        (rawMode === '' ? ' (the default when NODE_ENV=production)' : '') +
        ' but CDS_TRUSTED_CLIENTS (path of the trusted-clients JSON file) is not set',
    );
  }
  // Validated even when auth is off, so a broken file is found before someone turns auth on.
  const clients = clientsPath === '' ? [] : readTrustedClients(clientsPath);

  const rawPublicUrl = env.CDS_PUBLIC_URL?.trim() ?? '';
  const publicUrl = rawPublicUrl === '' ? undefined : readPublicUrl(rawPublicUrl);

  return Object.freeze({ mode, clients: Object.freeze(clients) as TrustedClient[], ...(publicUrl ? { publicUrl } : {}) });
}

