/**
 * The fleet feed in /dashboard: a watcher on one gateway receives every
 * gateway's status (connections per namespace) through the bus, and the
 * per-shard channel counts of its own gateway match what each Redis primary
 * reports.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { FLEET, NAMESPACE, type FleetStatus } from "../gateway/src/protocol.js";
import { closeAllClients, collect, connectClient, sleep } from "./support/clients.js";

/** Generous against a loaded machine: statuses come every 2 s. */
const WAIT_MS = 15_000;

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${WAIT_MS} ms`);
    await sleep(100);
  }
}

describe("fleet feed in /dashboard", () => {
  let topo: Topology;
  let ids: string[] = [];

  before(async () => {
    topo = await startTopology({ gateways: 2 });
    ids = topo.gateways.map((g) => `gw-${g.port}`);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("a watcher on one gateway sees both gateways' connections and its gateway's shard channel counts", async () => {
    const [a, b] = topo.gateways.map((g) => g.url);
    // Known load: 2 /calls sockets on B, 1 on A, and the watcher (/dashboard) on A.
    await connectClient(b, NAMESPACE.calls);
    await connectClient(b, NAMESPACE.calls);
    await connectClient(a, NAMESPACE.calls);
    const watcher = await connectClient(a, NAMESPACE.dashboard);
    const statuses = collect<FleetStatus>(watcher.socket, FLEET.status);
    const ack = await watcher.socket.emitWithAck(FLEET.watch, {});
    assert.deepEqual(ack, { ok: true, room: FLEET.room, intervalMs: 2000 });

    // Its own gateway answers at once, without shard counts (a repeated watch must not query Redis).
    const first = await until("the immediate status", () => statuses[0]);
    assert.equal(first.gateway, ids[0]);
    assert.deepEqual(first.shards, []);

    const latest = (id: string, withShards = false) =>
      [...statuses].reverse().find((s) => s.gateway === id && (!withShards || s.shards.length > 0));
    const fromA = await until("a status with shards from A", () => latest(ids[0], true));
    const fromB = await until("a status from B", () => latest(ids[1]));
    assert.deepEqual(fromA.connections, { [NAMESPACE.calls]: 1, [NAMESPACE.dashboard]: 1 });
    assert.deepEqual(fromB.connections, { [NAMESPACE.calls]: 2, [NAMESPACE.dashboard]: 0 });
    assert.equal(fromA.draining, false);
    assert.deepEqual(fromB.shards, [], "B has no fleet watcher of its own, so it does not ask Redis");
    assert.ok(Math.abs(fromB.ts - Date.now()) < 60_000, "ts is a wall clock time");

    // The counts match the primaries' own answer (the rooms are stable now).
    assert.equal(fromA.shards.length, 3);
    const fresh = await until("a status taken after the watch settled", () => {
      const s = latest(ids[0], true);
      return s && s.ts > fromA.ts ? s : undefined;
    });
    for (const shard of fresh.shards) {
      const port = Number(shard.node.split(":").pop());
      const names = topo.redis.cli(port, "PUBSUB", "SHARDCHANNELS").split("\n").filter((l) => l.trim() !== "");
      assert.equal(shard.channels, names.length, `${shard.node}: ${names.join(", ")}`);
    }
    const total = fresh.shards.reduce((n, s) => n + (s.channels ?? 0), 0);
    assert.ok(total >= 1, "the fleet room's channel is counted");
  });

  it("after fleet:unwatch no more statuses arrive", async () => {
    const watcher = await connectClient(topo.gateways[1].url, NAMESPACE.dashboard);
    await watcher.socket.emitWithAck(FLEET.watch, {});
    assert.deepEqual(await watcher.socket.emitWithAck(FLEET.unwatch, {}), { ok: true });
    const statuses = collect<FleetStatus>(watcher.socket, FLEET.status);
    await sleep(5000); // two and a half intervals
    assert.equal(statuses.length, 0);
  });
});
