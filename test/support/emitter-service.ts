/**
 * A backend service as its own Node.js process (not a gateway): it connects
 * to the Redis cluster with node-redis and publishes with the sharded
 * emitter, as docs/publishing.md shows. The tests drive it with one JSON
 * command per stdin line and read one JSON result per stdout line:
 *
 *   > { "id": 1, "namespace": "/calls", "rooms": ["call:a"], "event": "x", "args": [...], "retry": true }
 *   < { "id": 1, "ok": true, "receipt": {...}, "attempts": 1 }
 *
 * An argument `{ "$binary": "<base64>" }` (at any depth) is sent as a Buffer.
 */
import { createInterface } from "node:readline";
import { createCluster } from "redis";
import { createShardedEmitter, retryPublish } from "../../emitter/index.js";

interface Command {
  id: number;
  namespace: string;
  rooms?: string[];
  except?: string[];
  event: string;
  args?: unknown[];
  retry?: boolean;
}

const seeds = (process.env.REDIS_NODES ?? "").split(",").filter(Boolean);
const cluster = createCluster({
  rootNodes: seeds.map((s) => ({ url: `redis://${s}` })),
  // Fail a publish at once while its shard is unreachable rather than queue
  // it; retryPublish decides when to try again.
  defaults: { disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: (n: number) => Math.min(50 * 2 ** n, 1000) } },
});
cluster.on("error", () => {});
await cluster.connect();
const emitter = createShardedEmitter(cluster, { publishTimeoutMs: 1000 });

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record.$binary === "string") return Buffer.from(record.$binary, "base64");
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

const write = (line: unknown) => process.stdout.write(JSON.stringify(line) + "\n");
write({ ready: true, uid: emitter.uid });

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "") continue;
  const c = JSON.parse(line) as Command;
  let attempts = 0;
  try {
    const publish = () => {
      attempts++;
      let target = emitter.of(c.namespace);
      if (c.rooms?.length) target = target.to(c.rooms);
      if (c.except?.length) target = target.except(c.except);
      return target.emit(c.event, ...((revive(c.args ?? []) as unknown[]) ?? []));
    };
    const receipt = c.retry ? await retryPublish(publish, { deadlineMs: 60_000 }) : await publish();
    write({ id: c.id, ok: true, receipt, attempts });
  } catch (err) {
    write({ id: c.id, ok: false, error: { code: (err as { code?: string }).code, message: (err as Error).message }, attempts });
  }
}
await cluster.close();
