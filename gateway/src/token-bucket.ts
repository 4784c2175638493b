/**
 * A token bucket: `ratePerSecond` tokens drip in continuously up to `burst`;
 * each action takes one. Used for new connections per IP and events per
 * client connection.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now = performance.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when the bucket has refilled completely: it carries no state worth keeping. */
  isFull(now = performance.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }
}

/**
 * One bucket per key (a client IP), forgetting keys whose bucket is full so
 * the map holds only clients seen in the last few seconds.
 */
export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    sweepIntervalMs = 10_000,
  ) {
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
    }, sweepIntervalMs);
    this.sweeper.unref();
  }

  take(key: string): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst);
      this.buckets.set(key, bucket);
    }
    return bucket.take();
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
