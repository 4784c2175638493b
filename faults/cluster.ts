/**
 * Reading and changing the local Redis Cluster's slot map, for the fault
 * scenarios: which primary owns a room's channel, who replicates whom, and
 * moving one slot to another primary while traffic flows.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisCluster } from "../topology/index.js";

export interface ClusterNode {
  id: string;
  port: number;
  primary: boolean;
  /** The primary's id, for a replica. */
  primaryId: string | undefined;
  failed: boolean;
  slots: Array<[number, number]>;
}

/** The sharded adapter's channel for a room (dynamic mode): `socket.io#<nsp>#<room>#`. */
export function roomChannel(namespace: string, room: string): string {
  return `socket.io#${namespace}#${room}#`;
}

/** `CLUSTER NODES` as seen from the first node that answers. */
export function clusterNodes(redis: RedisCluster): ClusterNode[] {
  for (const n of redis.nodes.filter((x) => x.process)) {
    try {
      return parseNodes(redis.cli(n.port, "CLUSTER", "NODES"));
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

export function slotOf(redis: RedisCluster, key: string): number {
  const port = redis.nodes.find((n) => n.process)!.port;
  return Number(redis.cli(port, "CLUSTER", "KEYSLOT", key).trim());
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
export function callOnShard(redis: RedisCluster, port: number, prefix: string): string {
  const nodes = clusterNodes(redis);
  for (let i = 0; i < 2000; i++) {
    const callId = `${prefix}-${i}`;
    const slots = ["/calls", "/dashboard"].map((nsp) => slotOf(redis, roomChannel(nsp, `call:${callId}`)));
    if (slots.every((s) => ownerOf(nodes, s).port === port)) return callId;
  }
  throw new Error(`no call id with both channels on ${port}`);
}

/** The replica of the primary at `port`. */
export function replicaOf(redis: RedisCluster, port: number): ClusterNode {
  const nodes = clusterNodes(redis);
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
export function moveSlot(redis: RedisCluster, slot: number, toPort: number): void {
  const nodes = clusterNodes(redis);
  const from = ownerOf(nodes, slot);
  const to = nodes.find((n) => n.port === toPort && n.primary);
  if (!to) throw new Error(`${toPort} is not a primary`);
  if (from.id === to.id) return;
  redis.cli(to.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id);
  redis.cli(from.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id);
  for (;;) {
    const keys = redis.cli(from.port, "CLUSTER", "GETKEYSINSLOT", String(slot), "100").trim().split("\n").filter(Boolean);
    if (keys.length === 0) break;
    redis.cli(from.port, "MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", "KEYS", ...keys);
  }
  for (const n of [to, from, ...nodes.filter((x) => x.primary && !x.failed && x.id !== to.id && x.id !== from.id)]) {
    redis.cli(n.port, "CLUSTER", "SETSLOT", String(slot), "NODE", to.id);
  }
}
