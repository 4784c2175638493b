/**
 * How many sharded pub/sub channels each Redis primary carries: with the
 * adapter in `dynamic` mode that is one channel per room with members, so it
 * shows how rooms spread over the shards. Each primary is asked
 * `PUBSUB SHARDCHANNELS` (Redis 7), bounded by a timeout so a dead shard
 * yields `null` instead of stalling the caller.
 *
 * The reply lists every channel name, so a poll costs O(rooms on the shard)
 * on Redis and on the wire (about 40 bytes per room): it runs on a timer
 * (SHARD_CHANNELS_POLL_SECONDS) and readers get the cached figures, never a
 * fresh poll per request or per event.
 */
import { withTimeout, type Bus } from "./bus.js";
import type { Logger } from "./log.js";
import type { ShardChannels } from "./protocol.js";

/** One poll of every primary. */
export async function countShardChannels(bus: Bus, timeoutMs: number): Promise<ShardChannels[]> {
  const primaries = await withTimeout(bus.primaries(), timeoutMs, "listing the primaries");
  const counted = await Promise.all(
    primaries.map(async ({ node, client }): Promise<ShardChannels> => {
      if (!client) return { node, channels: null, error: "no connection" };
      try {
        const names = (await withTimeout(client.sendCommand(["PUBSUB", "SHARDCHANNELS"]), timeoutMs, `PUBSUB SHARDCHANNELS on ${node}`)) as unknown[];
        return { node, channels: names.length };
      } catch (err) {
        return { node, channels: null, error: (err as Error).message };
      }
    }),
  );
  return counted.sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
}

export interface ShardChannelWatch {
  /** Last answer of each primary that answered (host:port -> channels); a failed shard is absent, never stale. */
  counts(): ReadonlyMap<string, number>;
  /** The last poll as a list, failed shards included with `channels: null`. */
  last(): ShardChannels[];
  /** Polls every primary now; resolves when all have answered or timed out. */
  refresh(): Promise<void>;
  start(): void;
  stop(): void;
}

export interface ShardChannelWatchOptions {
  intervalMs: number;
  /** Bound on each primary's answer (and on finding the primaries). */
  timeoutMs: number;
  onFailure(shard: string, error: Error): void;
  log: Logger;
}

/** Polls every primary on a timer and caches the figures for /metrics and the fleet feed. */
export function watchShardChannels(bus: Bus, o: ShardChannelWatchOptions): ShardChannelWatch {
  let counts: ReadonlyMap<string, number> = new Map();
  let last: ShardChannels[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function refresh(): Promise<void> {
    const polled = await countShardChannels(bus, o.timeoutMs);
    const next = new Map<string, number>();
    for (const shard of polled) {
      if (shard.channels === null) o.onFailure(shard.node, new Error(shard.error ?? "no answer"));
      else next.set(shard.node, shard.channels);
    }
    counts = next;
    last = polled;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh()
        .catch((err) => {
          counts = new Map();
          last = [];
          o.log.debug("shard channel poll failed", { error: err as Error });
        })
        .finally(schedule);
    }, o.intervalMs);
    timer.unref();
  }

  return {
    counts: () => counts,
    last: () => last,
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
