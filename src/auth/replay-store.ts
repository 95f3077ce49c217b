// The jti replay store: iss+jti seen within their token's lifetime are refused; entries expire at exp + tolerance.

/** iss+jti seen within their token's lifetime; entries expire at exp + tolerance. */
export class ReplayStore {
  private readonly expiries = new Map<string, number>();
  private nextSweepAt = 0;

  constructor(private readonly maxEntries: number) {}

  remember(key: string, expiresAtMs: number, nowMs: number): 'stored' | 'replay' | 'full' {
    if (nowMs >= this.nextSweepAt || this.expiries.size >= this.maxEntries) this.sweep(nowMs);
    const seenUntil = this.expiries.get(key);
    if (seenUntil !== undefined && seenUntil > nowMs) return 'replay';
    if (this.expiries.size >= this.maxEntries) return 'full';
    this.expiries.set(key, expiresAtMs);
    return 'stored';
  }

  private sweep(nowMs: number): void {
    for (const [key, expiresAt] of this.expiries) if (expiresAt <= nowMs) this.expiries.delete(key);
    this.nextSweepAt = nowMs + 30_000;
  }
}

