// JWT replay protection in shared storage: (iss, jti) is stored atomically until the token's expiry plus the clock
// tolerance, so every worker and instance refuses a second use. Each issuer has its own quota of live jtis:
// a client flooding tokens refuses only itself.
import type { Logger } from 'pino';
import type { ReplayResult, Storage } from '../storage/storage';

export interface ReplayGuard {
  remember(iss: string, jti: string, expiresAtMs: number, nowMs: number): Promise<ReplayResult>;
}

const QUOTA_LOG_INTERVAL_MS = 60_000;

export function createReplayGuard(storage: Storage, quotaPerIssuer: number, log: Logger): ReplayGuard {
  // Issuers are the trusted clients, so this map stays as small as the trusted-clients file.
  const lastQuotaLog = new Map<string, number>();
  return {
    async remember(iss, jti, expiresAtMs, nowMs) {
      const result = await storage.rememberJti(iss, jti, expiresAtMs, nowMs, quotaPerIssuer);
      if (result === 'quota-full' && nowMs - (lastQuotaLog.get(iss) ?? -Infinity) >= QUOTA_LOG_INTERVAL_MS) {
        lastQuotaLog.set(iss, nowMs);
        log.error({ iss, quota: quotaPerIssuer }, 'replay quota of this issuer is full: its calls are refused until its tokens expire (CDS_REPLAY_QUOTA)');
      }
      return result;
    },
  };
}
