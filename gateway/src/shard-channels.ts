/**
 * How many sharded pub/sub channels each Redis primary carries: with the
 * adapter in `dynamic` mode that is one channel per room with members, so it
 * shows how rooms spread over the shards. Each primary is asked
 * `PUBSUB SHARDCHANNELS` (Redis 7), bounded by a timeout so a dead shard
 * yields `null` instead of stalling the caller.
 *
 * The reply lists every channel name, so it grows with the number of rooms
 * on that shard (about 40 bytes per room): call it on a timer for people
 * watching, never per request or per event.
 */
import { withTimeout, type Bus } from "./bus.js";
import type { ShardChannels } from "./protocol.js";

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
