/**
 * A latency histogram with logarithmic buckets (5% wide, from 10 µs to
 * about 10 minutes): small enough to ship from every worker every second,
 * mergeable by adding counts, and precise to 5% at every percentile.
 */
const FIRST_BUCKET_MS = 0.01;
const GROWTH = 1.05;
const BUCKETS = 370; // 0.01 ms * 1.05^370 ≈ 680 s

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;
  max = 0;

  record(ms: number): void {
    const v = ms > FIRST_BUCKET_MS ? ms : FIRST_BUCKET_MS;
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v / FIRST_BUCKET_MS) / Math.log(GROWTH)));
    this.counts[i]++;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  /** The non-empty buckets as [index, count] pairs, for IPC. */
  sparse(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) out.push([i, this.counts[i]]);
    return out;
  }

  addSparse(pairs: Array<[number, number]>, max: number): void {
    for (const [i, c] of pairs) {
      this.counts[i] += c;
      this.total += c;
    }
    if (max > this.max) this.max = max;
  }

  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.max = 0;
  }

  /** The value at quantile q (0..1): the upper edge of its bucket, capped at the max seen. */
  quantile(q: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, upperEdge(i));
    }
    return this.max;
  }

  /** Buckets as { le, count } for charts, only the non-empty span. */
  buckets(): Array<{ lowMs: number; highMs: number; count: number }> {
    const out: Array<{ lowMs: number; highMs: number; count: number }> = [];
    let first = -1;
    let last = -1;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.counts[i] > 0) {
        if (first < 0) first = i;
        last = i;
      }
    }
    for (let i = first; first >= 0 && i <= last; i++) {
      out.push({ lowMs: i === 0 ? 0 : upperEdge(i - 1), highMs: upperEdge(i), count: this.counts[i] });
    }
    return out;
  }
}

function upperEdge(i: number): number {
  return FIRST_BUCKET_MS * GROWTH ** (i + 1);
}
