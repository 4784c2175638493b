/**
 * Token buckets for POST /v1/publish, one per key (a credential, or a client
 * IP for failed authentications): `ratePerSecond` sustained, `burst` at once.
 * In memory and per gateway task: the NLB spreads a service's connections
 * over the tasks, so the fleet-wide allowance is tasks x rate.
 */
export interface RateLimiter {
  /** Takes a token for `key`; when none is left, the seconds until one is. */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number };
}

/** Full buckets carry no information; past this many keys they are dropped so spoofed IPs cannot grow the map without bound. */
const MAX_KEYS = 10_000;

export function createRateLimiter(o: { ratePerSecond: number; burst: number; now?: () => number }): RateLimiter {
  const now = o.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refill = (b: { tokens: number; at: number }, t: number) => {
    b.tokens = Math.min(o.burst, b.tokens + ((t - b.at) / 1000) * o.ratePerSecond);
    b.at = t;
  };
  return {
    take(key) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= MAX_KEYS) {
          for (const [k, v] of buckets) {
            refill(v, t);
            if (v.tokens >= o.burst) buckets.delete(k);
          }
        }
        b = { tokens: o.burst, at: t };
        buckets.set(key, b);
      }
      refill(b, t);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / o.ratePerSecond)) };
    },
  };
}
