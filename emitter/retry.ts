/**
 * The retry loop a publishing service should run around emit(): a publish
 * fails while a shard's primary is down and a replica has not yet taken over
 * (cluster-node-timeout plus the election, seconds), then succeeds on the
 * new primary once the client has refreshed its slot map.
 *
 * Retrying makes delivery at-least-once: a publish that timed out may still
 * have reached Redis. Give events an id when duplicates matter.
 */
import { ERROR_CODE } from "../gateway/src/protocol.js";

export interface RetryOptions {
  /** Give up after this long (default 30000 ms, comfortably above an ElastiCache failover). */
  deadlineMs?: number;
  /** First pause between attempts (default 100 ms); it doubles up to maxDelayMs, with jitter. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry, e.g. to log. */
  onRetry?: (attempt: number, error: unknown) => void;
}

/** Runs `publish` until it succeeds, fails for a reason other than the bus, or the deadline passes. */
export async function retryPublish<T>(publish: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (o.deadlineMs ?? 30_000);
  const maxDelay = o.maxDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await publish();
    } catch (err) {
      // Bad input fails the same way every time: only bus failures are worth another try.
      const retriable = (err as { code?: string })?.code === ERROR_CODE.publishFailed;
      const cap = Math.min(maxDelay, (o.firstDelayMs ?? 100) * 2 ** (attempt - 1));
      const delay = cap / 2 + Math.random() * (cap / 2);
      if (!retriable || Date.now() + delay > deadline) throw err;
      o.onRetry?.(attempt, err);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
