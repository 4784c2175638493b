/**
 * The channel count each shard reports: `PUBSUB SHARDCHANNELS` sent to every
 * primary on a timer, each call bounded by a timeout, the results cached for
 * the scrape to read. A shard that fails or does not answer in time is left
 * out of the cache (no stale figure) and counted as a failed poll.
 *
 * The reply lists every sharded channel of that shard (one per room), so a
 * poll costs O(rooms on the shard) on Redis and on the wire; the interval is
 * configurable for that reason (SHARD_CHANNELS_POLL_SECONDS).
 */
import { withTimeout, type Bus } from "./bus.js";
import type { Logger } from "./log.js";

export interface ShardChannels {
  /** Last answer of each primary (host:port -> channels). */
  counts(): ReadonlyMap<string, number>;
  /** Polls every primary now; resolves when all have answered or timed out. */
  refresh(): Promise<void>;
  start(): void;
  stop(): void;
}

export interface ShardChannelsOptions {
  intervalMs: number;
  /** Bound on each primary's answer (and on finding the primaries). */
  timeoutMs: number;
  onFailure(shard: string, error: Error): void;
  log: Logger;
}

export function watchShardChannels(bus: Bus, o: ShardChannelsOptions): ShardChannels {
  let counts: ReadonlyMap<string, number> = new Map();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function refresh(): Promise<void> {
    const primaries = await withTimeout(bus.primaries(), o.timeoutMs, "listing the primaries");
    const next = new Map<string, number>();
    await Promise.all(
      primaries.map(async ({ node, client }) => {
        try {
          if (!client) throw new Error("no connection to this primary");
          const channels = await withTimeout<unknown[]>(
            client.sendCommand(["PUBSUB", "SHARDCHANNELS"]),
            o.timeoutMs,
            `PUBSUB SHARDCHANNELS to ${node}`,
          );
          next.set(node, channels.length);
        } catch (err) {
          o.onFailure(node, err as Error);
        }
      }),
    );
    counts = next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err) => {
          counts = new Map();
          o.log.debug("shard channel poll failed", { error: err as Error });
        })
        .finally(schedule);
    }, o.intervalMs);
    timer.unref();
  }

  return {
    counts: () => counts,
    refresh,
    start() {
      stopped = false;
      void refresh().catch(() => {}).finally(schedule);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
