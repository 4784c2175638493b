/** Which node of the test cluster owns a key's slot, read from the cluster itself. */
import type { RedisCluster } from "../../topology/index.js";

/** The port of the live primary that serves `key` (a channel name hashes like a key), asking any node that answers. */
export function primaryFor(redis: RedisCluster, key: string): number {
  let lastError: unknown;
  for (const node of redis.nodes.filter((n) => n.process)) {
    try {
      const slot = Number(redis.cli(node.port, "CLUSTER", "KEYSLOT", key).trim());
      for (const line of redis.cli(node.port, "CLUSTER", "NODES").split("\n")) {
        const [, address, flags, , , , , , ...ranges] = line.trim().split(" ");
        if (!flags || !flags.split(",").includes("master") || flags.includes("fail")) continue;
        for (const range of ranges) {
          const [from, to = from] = range.split("-").map(Number);
          if (slot >= from && slot <= to) return Number(address.split("@")[0].split(":").pop());
        }
      }
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`no live primary owns the slot of ${key}: ${String(lastError ?? "no node answered")}`);
}
