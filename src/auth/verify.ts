// CDS Client JWT verification (CDS Hooks 2.0 §Trusting CDS Clients + best-practices.md): iss/jku allow-list, audience
// binding, lifetime limits and jti replay protection. Every failure is the same bare 401; the reason goes to the log only.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { JWTPayload, JWTVerifyGetKey, ProtectedHeaderParameters } from 'jose';
import type { Logger } from 'pino';
import { HttpError } from '../errors';
import { ReplayStore } from './replay-store';
import type { AuthSettings } from './trusted-clients';

export interface AuthenticatedClient {
  iss: string;
  jti: string;
  tenant?: string;
}

export interface ClientVerifier {
  verify(authorizationHeader: string | undefined, expectedAudience: string): Promise<AuthenticatedClient>;
}

// Spec: SHALL NOT be none or symmetric; ES384/RS384 recommended. ES256/RS256 accepted for clients that cannot do 384.
export const ALLOWED_ALGORITHMS = ['ES384', 'RS384', 'ES256', 'RS256'] as const;
export const CLOCK_TOLERANCE_S = 60;
export const MAX_TOKEN_LIFETIME_S = 3600;
// Bounds memory of the replay store: a full store (after evicting expired entries) rejects rather than forgets,
// because forgetting a live jti would re-open the replay window.
export const MAX_REPLAY_ENTRIES = 100_000;
const MAX_JTI_LENGTH = 256;
// Far above any real client JWT; stops pathological headers before base64/JSON decoding.
const MAX_TOKEN_LENGTH = 8192;
// Keeps a hook call near the spec's ~500 ms budget when a client's JWKS endpoint hangs.
const JWKS_TIMEOUT_MS = 3000;


// Verification

/** A rejection reason meant for the log; never carries the token. */
class AuthFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'AuthFailure';
  }
}

function unauthorized(): HttpError {
  // RFC 7235: a 401 carries a challenge. The body says nothing more, per CDS Hooks best practices.
  return new HttpError(401, { code: 'login', diagnostics: 'unauthorized' }, { 'WWW-Authenticate': 'Bearer' });
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return err.claim === 'exp' ? 'token expired' : `"${err.claim}" too old`;
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim check failed: ${err.claim} (${err.reason})`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the JWKS matches kid/alg';
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several keys in the JWKS match kid/alg';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature invalid';
  if (err instanceof joseErrors.JWKSTimeout) return 'JWKS fetch timed out';
  if (err instanceof joseErrors.JWKSInvalid) return 'JWKS invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'alg not allowed';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'malformed token';
  // jose's messages are fixed strings (no token content), e.g. a non-200 JWKS response.
  if (err instanceof joseErrors.JOSEError) return `${err.code}: ${err.message}`;
  // Network errors from the JWKS fetch, and anything unexpected: name and errno code only.
  const code = (err as { code?: unknown } | null)?.code;
  return `JWKS unavailable or verification error: ${err instanceof Error ? err.name : typeof err}${typeof code === 'string' ? ` ${code}` : ''}`;
}

/** Normalisation as in RFC 7515 §4.1.9: "JWT" and "application/jwt" are the same media type, case-insensitively. */
function isJwtTyp(typ: unknown): boolean {
  return typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === 'jwt';
}

function isAllowedAlg(alg: unknown): boolean {
  return typeof alg === 'string' && (ALLOWED_ALGORITHMS as readonly string[]).includes(alg);
}

/** Builds the verifier once at start-up; it owns the per-URL JWKS caches and the replay store. */
export function createClientVerifier(settings: AuthSettings, log: Logger, now: () => number = () => Date.now()): ClientVerifier {
  const clientsByIss = new Map(settings.clients.map((c) => [c.iss, c] as const));
  const localSets = new Map<string, JWTVerifyGetKey>();
  for (const c of settings.clients) if (c.jwks) localSets.set(c.iss, createLocalJWKSet(c.jwks));
  // Remote sets are created lazily, once per URL: jose's set caches keys (10 min) and, on an unknown kid, refetches
  // at most once per 30 s cooldown, which is exactly the rotation behaviour we want.
  const remoteSets = new Map<string, JWTVerifyGetKey>();
  const replays = new ReplayStore(MAX_REPLAY_ENTRIES);

  function remoteSet(url: string): JWTVerifyGetKey {
    let set = remoteSets.get(url);
    if (!set) {
      set = createRemoteJWKSet(new URL(url), { timeoutDuration: JWKS_TIMEOUT_MS });
      remoteSets.set(url, set);
    }
    return set;
  }

  interface Attempt {
    iss?: string;
    kid?: string;
  }

  async function verifyOrFail(authorizationHeader: string | undefined, expectedAudience: string, attempt: Attempt): Promise<AuthenticatedClient> {
    if (expectedAudience === '') throw new AuthFailure('cannot determine the expected audience');
    if (authorizationHeader === undefined || authorizationHeader === '') throw new AuthFailure('no Authorization header');
    const match = /^Bearer[ ]+([A-Za-z0-9\-_.]+)[ ]*$/i.exec(authorizationHeader);
    if (!match?.[1]) throw new AuthFailure('Authorization is not a Bearer token');
    const token = match[1];
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthFailure('token too long');

    // Everything below up to jwtVerify reads unverified data, only to pick a key; nothing is trusted from it.
    let header: ProtectedHeaderParameters;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new AuthFailure('malformed token');
    }
    if (typeof header.kid === 'string') attempt.kid = header.kid.slice(0, 100);
    if (typeof unverified.iss === 'string') attempt.iss = unverified.iss.slice(0, 200);

    if (!isAllowedAlg(header.alg)) throw new AuthFailure(`alg ${JSON.stringify(header.alg ?? null).slice(0, 20)} not allowed`);
    if (!isJwtTyp(header.typ)) throw new AuthFailure('typ is not JWT');
    if (typeof header.kid !== 'string' || header.kid === '') throw new AuthFailure('kid missing');
    const client = typeof unverified.iss === 'string' ? clientsByIss.get(unverified.iss) : undefined;
    if (!client) throw new AuthFailure('iss not trusted');

    let getKey: JWTVerifyGetKey;
    if (header.jku !== undefined) {
      // Checked before any fetch: an arbitrary jku would be SSRF plus attacker-chosen keys.
      if (typeof header.jku !== 'string' || !(client.allowedJku ?? []).includes(header.jku)) {
        throw new AuthFailure('jku not allowed for this iss');
      }
      getKey = remoteSet(header.jku);
    } else if (client.jwksUrl) {
      getKey = remoteSet(client.jwksUrl);
    } else {
      const local = localSets.get(client.iss);
      if (!local) throw new AuthFailure('no keys configured for this iss');
      getKey = local;
    }

    const nowMs = now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: [...ALLOWED_ALGORITHMS],
        typ: 'JWT',
        issuer: client.iss,
        audience: expectedAudience,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_S,
        // Also rejects an iat more than the tolerance in the future.
        maxTokenAge: MAX_TOKEN_LIFETIME_S,
        currentDate: new Date(nowMs),
      }));
    } catch (err) {
      throw new AuthFailure(describeJoseError(err));
    }

    const { exp, iat, jti, tenant } = payload as JWTPayload & { tenant?: unknown };
    if (typeof exp !== 'number' || typeof iat !== 'number') throw new AuthFailure('exp/iat not numbers');
    if (exp <= iat) throw new AuthFailure('exp not after iat');
    if (exp - iat > MAX_TOKEN_LIFETIME_S) throw new AuthFailure(`lifetime over ${MAX_TOKEN_LIFETIME_S} s`);
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw new AuthFailure('jti missing or invalid');
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant === '')) throw new AuthFailure('tenant invalid');
    if (client.tenants) {
      if (tenant === undefined) throw new AuthFailure('tenant missing');
      if (!client.tenants.includes(tenant)) throw new AuthFailure('tenant not allowed for this iss');
    }

    // Last, so that a token rejected for another reason does not burn its jti.
    const stored = replays.remember(`${client.iss}\u0000${jti}`, (exp + CLOCK_TOLERANCE_S) * 1000, nowMs);
    if (stored === 'replay') throw new AuthFailure('jti replayed');
    if (stored === 'full') throw new AuthFailure('replay store full');

    return { iss: client.iss, jti, ...(tenant !== undefined ? { tenant } : {}) };
  }

  return {
    async verify(authorizationHeader, expectedAudience) {
      const attempt: Attempt = {};
      try {
        return await verifyOrFail(authorizationHeader, expectedAudience, attempt);
      } catch (err) {
        const reason = err instanceof AuthFailure ? err.reason : describeJoseError(err);
        log.warn({ auth: { reason, ...attempt, aud: expectedAudience } }, 'client authentication failed');
        throw unauthorized();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
