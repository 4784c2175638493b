/**
 * Reading and changing the local Redis Cluster's slot map, for the fault
 * scenarios: which primary owns a room's channel, who replicates whom, and
 * moving one slot to another primary while traffic flows.
 */
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { RedisCluster } from "../topology/index.js";
import { callRoom } from "../gateway/src/protocol.js";
import { roomChannel } from "../gateway/src/channels.js";
import { DEV_TENANT } from "../topology/dev-auth.js";

const run = promisify(execFile);

/**
 * redis-cli without blocking the event loop: the fault scenarios send and
 * receive traffic in this same process, and a synchronous call would pause
 * the traffic exactly while the fault is being injected.
 */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 15_000 });
  if (stdout.startsWith("ERR") || stdout.startsWith("(error)")) throw new Error(`redis-cli -p ${port} ${args.join(" ")}: ${stdout}`);
  return stdout;
}

export interface ClusterNode {
  id: string;
  port: number;
  primary: boolean;
  /** The primary's id, for a replica. */
  primaryId: string | undefined;
  failed: boolean;
  slots: Array<[number, number]>;
}

/** The sharded adapter's channel for a room: the one naming rule, pinned against the adapter by test/emitter-channels. */
export { roomChannel } from "../gateway/src/channels.js";

/** `CLUSTER NODES` as seen from the first node that answers. */
export async function clusterNodes(redis: RedisCluster): Promise<ClusterNode[]> {
  for (const n of redis.nodes.filter((x) => x.process)) {
    try {
      return parseNodes(await cli(n.port, "CLUSTER", "NODES"));
    } catch {
      /* try the next node */
    }
  }
  throw new Error("no Redis node answered CLUSTER NODES");
}

function parseNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, primaryId, , , , , ...slots] = line.split(" ");
      return {
        id,
        port: Number(addr.split("@")[0].split(":")[1]),
        primary: flags.split(",").includes("master"),
        primaryId: primaryId === "-" ? undefined : primaryId,
        failed: /fail/.test(flags),
        slots: slots
          .filter((s) => !s.startsWith("["))
          .map((s) => {
            const [a, b] = s.split("-").map(Number);
            return [a, b ?? a] as [number, number];
          }),
      };
    });
}

/** Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its first non-empty `{hash tag}`, mod 16384. */
export function slotOf(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

export function ownerOf(nodes: ClusterNode[], slot: number): ClusterNode {
  const owner = nodes.find((n) => n.primary && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!owner) throw new Error(`no live primary owns slot ${slot}`);
  return owner;
}

/**
 * A call id whose /calls and /dashboard channels both live on the primary at
 * `port`, so a fault on that shard is the only fault its broadcasts meet.
 */
export async function callOnShard(redis: RedisCluster, port: number, prefix: string): Promise<string> {
  const nodes = await clusterNodes(redis);
  for (let i = 0; i < 2000; i++) {
    const callId = `${prefix}-${i}`;
    const slots = ["/calls", "/dashboard"].map((nsp) => slotOf(roomChannel(nsp, callRoom(DEV_TENANT, callId))));
    if (slots.every((s) => ownerOf(nodes, s).port === port)) return callId;
  }
  throw new Error(`no call id with both channels on ${port}`);
}

/** The replica of the primary at `port`. */
export async function replicaOf(redis: RedisCluster, port: number): Promise<ClusterNode> {
  const nodes = await clusterNodes(redis);
  const primary = nodes.find((n) => n.port === port)!;
  const replica = nodes.find((n) => n.primaryId === primary.id);
  if (!replica) throw new Error(`primary ${port} has no replica`);
  return replica;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Moves one slot from its owner to the primary at `toPort`, the way
 * `redis-cli --cluster reshard` does: IMPORTING on the target, MIGRATING on
 * the source, MIGRATE of any keys (channels are not keys, so usually none),
 * then SETSLOT NODE on every primary, target first.
 */
export async function moveSlot(redis: RedisCluster, slot: number, toPort: number): Promise<void> {
  const nodes = await clusterNodes(redis);
  const from = ownerOf(nodes, slot);
  const to = nodes.find((n) => n.port === toPort && n.primary);
  if (!to) throw new Error(`${toPort} is not a primary`);
  if (from.id === to.id) return;
  await cli(to.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id);
  await cli(from.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id);
  for (;;) {
    const keys = (await cli(from.port, "CLUSTER", "GETKEYSINSLOT", String(slot), "100")).trim().split("\n").filter(Boolean);
    if (keys.length === 0) break;
    await cli(from.port, "MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", "KEYS", ...keys);
  }
  for (const n of [to, from, ...nodes.filter((x) => x.primary && !x.failed && x.id !== to.id && x.id !== from.id)]) {
    await cli(n.port, "CLUSTER", "SETSLOT", String(slot), "NODE", to.id);
  }
}

/** How many connections are subscribed to a sharded channel on the primary that owns it now. */
export async function subscribersOf(redis: RedisCluster, channel: string): Promise<number> {
  const owner = ownerOf(await clusterNodes(redis), slotOf(channel));
  return Number((await cli(owner.port, "PUBSUB", "SHARDNUMSUB", channel)).trim().split("\n")[1] ?? 0);
}

/** The port of the live primary that serves `key`'s slot (a channel name hashes like a key). */
export async function primaryFor(redis: RedisCluster, key: string): Promise<number> {
  return ownerOf(await clusterNodes(redis), slotOf(key)).port;
}
