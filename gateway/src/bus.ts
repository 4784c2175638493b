/**
 * The bus: the Redis connections that carry broadcasts between gateways.
 * `cluster` uses a node-redis cluster client (ElastiCache cluster mode),
 * `single` one Redis 7 node, `memory` no Redis at all. Both Redis modes use
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE) through the sharded adapter.
 */
import { createClient, createCluster } from "redis";
import type { GatewayConfig, RedisNode } from "./config.js";
import type { Logger } from "./log.js";

// node-redis' generic client types are deep; the bus only needs a few calls.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type RedisConnection = any;

export interface ShardProbe {
  /** host:port of the primary. */
  node: string;
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

export interface BusHealth {
  ok: boolean;
  reason?: string;
  shards: ShardProbe[];
  checkedAt: number;
}

export interface Bus {
  readonly mode: GatewayConfig["redis"]["mode"];
  /** Publishing connection (cluster or single client); undefined in memory mode. */
  readonly pub: RedisConnection | undefined;
  /** Subscribing connection, a duplicate of `pub`; undefined in memory mode. */
  readonly sub: RedisConnection | undefined;
  /** Connects, retrying until Redis answers or the bus is closed. */
  connect(): Promise<void>;
  /** The last probe's verdict; refreshed on a timer, never on a request's path. */
  health(): BusHealth;
  /** The primaries the bus currently knows, for per-shard probes. */
  primaries(): Promise<Array<{ node: string; client: RedisConnection }>>;
  close(): Promise<void>;
}

const PROBE_INTERVAL_MS = 2000;
const PROBE_TIMEOUT_MS = 1000;

export function createBus(config: GatewayConfig["redis"], log: Logger): Bus {
  if (config.mode === "memory") return memoryBus(log);
  return redisBus(config, log);
}

function memoryBus(log: Logger): Bus {
  log.warn("REDIS_MODE=memory: no Redis; broadcasts do not cross processes, run one gateway only");
  const healthy: BusHealth = { ok: true, shards: [], checkedAt: Date.now() };
  return {
    mode: "memory",
    pub: undefined,
    sub: undefined,
    connect: async () => {},
    health: () => ({ ...healthy, checkedAt: Date.now() }),
    primaries: async () => [],
    close: async () => {},
  };
}

/** Exponential backoff with full jitter, capped: a fleet must not reconnect in step. */
function reconnectDelay(retries: number): number {
  const cap = Math.min(2000, 50 * 2 ** Math.min(retries, 10));
  return Math.floor(cap / 2 + Math.random() * (cap / 2));
}

function redisBus(config: GatewayConfig["redis"], log: Logger): Bus {
  const nodeDefaults = {
    password: config.auth,
    socket: {
      tls: config.tls,
      connectTimeout: 5000,
      reconnectStrategy: reconnectDelay,
    },
  };
  // A publish must fail fast while Redis is away (its sender gets an error ack
  // and local members are still served), not sit in an offline queue and be
  // sent minutes later. The subscriber keeps its queue: node-redis replays
  // subscriptions itself on reconnect.
  const pubOptions = { ...nodeDefaults, disableOfflineQueue: true };
  let pub: RedisConnection;
  let sub: RedisConnection;
  if (config.mode === "cluster") {
    pub = createCluster({
      rootNodes: config.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
      // TLS and the auth token must be in the node defaults: settings on the
      // root nodes alone are used for discovery only, and the client then
      // hangs against a TLS cluster.
      defaults: pubOptions as any,
    });
    sub = pub.duplicate({ defaults: nodeDefaults });
  } else {
    const node = config.nodes[0] as RedisNode;
    pub = createClient({ ...pubOptions, socket: { ...nodeDefaults.socket, host: node.host, port: node.port } } as any);
    sub = pub.duplicate({ disableOfflineQueue: false });
  }

  // An unhandled 'error' event would crash the process; errors arrive in
  // bursts while Redis is away, so log the first of each kind per interval.
  const errorLog = throttledErrors(log);
  for (const [role, client] of [["pub", pub], ["sub", sub]] as const) {
    client.on("error", (err: Error) => errorLog(role, err));
    client.on("node-error", (err: Error, node: { host?: string; port?: number }) =>
      errorLog(`${role}@${node?.host}:${node?.port}`, err),
    );
  }

  let closed = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let current: BusHealth = { ok: false, reason: "redis: connecting", shards: [], checkedAt: Date.now() };

  async function primaries(): Promise<Array<{ node: string; client: RedisConnection }>> {
    if (config.mode !== "cluster") {
      const n = config.nodes[0] as RedisNode;
      return [{ node: `${n.host}:${n.port}`, client: pub }];
    }
    const out: Array<{ node: string; client: RedisConnection }> = [];
    for (const master of pub.masters as Array<{ address: string; host: string; port: number }>) {
      try {
        out.push({ node: `${master.host}:${master.port}`, client: await pub.nodeClient(master) });
      } catch (err) {
        out.push({ node: `${master.host}:${master.port}`, client: undefined });
        errorLog(`probe@${master.host}:${master.port}`, err as Error);
      }
    }
    return out;
  }

  async function probe(): Promise<void> {
    if (!pub.isReady || !sub.isReady) {
      current = { ok: false, reason: "redis: not connected", shards: current.shards, checkedAt: Date.now() };
      return;
    }
    const shards = await Promise.all(
      (await primaries()).map(async ({ node, client }): Promise<ShardProbe> => {
        if (!client) return { node, ok: false, error: "no connection" };
        const started = performance.now();
        try {
          await withTimeout(client.ping(), PROBE_TIMEOUT_MS, `PING to ${node}`);
          return { node, ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
        } catch (err) {
          return { node, ok: false, error: (err as Error).message };
        }
      }),
    );
    const down = shards.filter((s) => !s.ok);
    current = {
      ok: shards.length > 0 && down.length === 0,
      reason:
        shards.length === 0
          ? "redis: no primaries known"
          : down.length > 0
            ? `redis: ${down.map((s) => `${s.node} ${s.error}`).join("; ")}`
            : undefined,
      shards,
      checkedAt: Date.now(),
    };
  }

  function scheduleProbe(): void {
    if (closed) return;
    probeTimer = setTimeout(() => {
      probe()
        .catch((err) => {
          current = { ok: false, reason: `redis: ${(err as Error).message}`, shards: [], checkedAt: Date.now() };
        })
        .finally(scheduleProbe);
    }, PROBE_INTERVAL_MS);
    probeTimer.unref();
  }

  return {
    mode: config.mode,
    pub,
    sub,
    async connect() {
      for (let attempt = 0; !closed; attempt++) {
        try {
          if (!pub.isOpen) await pub.connect();
          if (!sub.isOpen) await sub.connect();
          break;
        } catch (err) {
          errorLog("connect", err as Error);
          await new Promise((r) => setTimeout(r, reconnectDelay(attempt) + 250));
        }
      }
      if (closed) return;
      log.info("redis connected", { mode: config.mode, seeds: config.nodes.map((n) => `${n.host}:${n.port}`) });
      await probe().catch(() => {});
      scheduleProbe();
    },
    health: () => current,
    primaries,
    async close() {
      closed = true;
      if (probeTimer) clearTimeout(probeTimer);
      await Promise.allSettled([closeClient(sub), closeClient(pub)]);
    },
  };
}

async function closeClient(client: RedisConnection): Promise<void> {
  if (!client.isOpen) {
    client.destroy?.();
    return;
  }
  try {
    await withTimeout(client.close(), 2000, "redis close");
  } catch {
    client.destroy?.();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function throttledErrors(log: Logger): (source: string, err: Error) => void {
  const lastLogged = new Map<string, number>();
  return (source, err) => {
    const key = `${source}:${err?.message}`;
    const now = Date.now();
    if ((lastLogged.get(key) ?? 0) > now - 10_000) return;
    lastLogged.set(key, now);
    if (lastLogged.size > 1000) lastLogged.clear();
    log.warn("redis error", { source, error: err?.message ?? String(err) });
  };
}
