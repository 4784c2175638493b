/**
 * MAX_CONNECTIONS_PER_USER across the fleet, kept in Redis so that it cannot
 * leak: a gateway killed with SIGKILL (no disconnect handlers run) gives its
 * users their slots back within CONNECTION_LEASE_SECONDS.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CONNECT_ERROR_CODE, NAMESPACE } from "../gateway/src/protocol.js";
import { userConnectionsKey } from "../gateway/src/user-connections.js";
import { freePorts, startTopology, type GatewayProcess, type Topology } from "../topology/index.js";
import { DEV_TENANT, mintDevToken } from "../topology/dev-auth.js";
import { closeAllClients, type ConnectedClient } from "./support/clients.js";
import { metricSum, tryConnect, waitFor } from "./support/admission.js";

const LEASE_SECONDS = 6;
const LIMIT_ENV = { MAX_CONNECTIONS_PER_USER: "5", CONNECTION_LEASE_SECONDS: String(LEASE_SECONDS) };

async function connectAs(url: string, sub: string): Promise<ConnectedClient> {
  const r = await tryConnect(url, NAMESPACE.calls, await mintDevToken({ sub }));
  if (!r.client) throw new Error(`${sub} refused on ${url}: ${JSON.stringify(r.refused)}`);
  return r.client;
}

async function refusalOf(url: string, sub: string): Promise<string | undefined> {
  const r = await tryConnect(url, NAMESPACE.calls, await mintDevToken({ sub }));
  r.client?.socket.close();
  return r.refused?.code;
}

/** The user's hash in Redis and the port of the node that owns its slot. */
function userHash(topo: Topology, sub: string): { port: number; hash: Record<string, string> } {
  const key = userConnectionsKey({ tenant: DEV_TENANT, sub });
  for (const n of topo.redis.nodes) {
    const out = topo.redis.cli(n.port, "HGETALL", key).trim();
    if (out.includes("MOVED")) continue;
    const parts = out === "" ? [] : out.split("\n");
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < parts.length; i += 2) hash[parts[i]] = parts[i + 1];
    return { port: n.port, hash };
  }
  throw new Error(`no node answered for ${key}`);
}

describe("per-user connection limit across the fleet", () => {
  let topo: Topology;
  let gw: string[] = [];

  before(async () => {
    topo = await startTopology({ gateways: 2, gatewayEnv: LIMIT_ENV });
    gw = topo.gateways.map((g) => g.url);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("refuses the sixth connection of a user on one gateway, and lets one in after a disconnect", async () => {
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await connectAs(gw[0], "limit-one"));
    assert.equal(await refusalOf(gw[0], "limit-one"), CONNECT_ERROR_CODE.tooManyConnections);
    const counts = Object.values(userHash(topo, "limit-one").hash);
    assert.equal(counts.length, 1, "one field: this gateway's");
    assert.match(counts[0], /^5:\d+$/);

    held.pop()!.socket.close();
    // The release is one Redis round trip after the disconnect.
    const again = await waitFor("a slot after a disconnect", async () => (await tryConnect(gw[0], NAMESPACE.calls, await mintDevToken({ sub: "limit-one" }))).client, 5000);
    held.push(again);
    assert.equal(await refusalOf(gw[0], "limit-one"), CONNECT_ERROR_CODE.tooManyConnections, "still five at most");
    assert.equal(await refusalOf(gw[1], "limit-one"), CONNECT_ERROR_CODE.tooManyConnections, "on the other gateway too");
    assert.ok((await metricSum(gw[0], 'socket_io_connections_rejected_total{namespace="/calls",reason="too_many_connections"}')) >= 2);
    // Another user is not affected.
    (await connectAs(gw[0], "limit-other")).socket.close();
  });

  it("counts a user's connections on every gateway together", async () => {
    for (let i = 0; i < 3; i++) await connectAs(gw[0], "limit-fleet");
    for (let i = 0; i < 2; i++) await connectAs(gw[1], "limit-fleet");
    assert.equal(await refusalOf(gw[0], "limit-fleet"), CONNECT_ERROR_CODE.tooManyConnections);
    assert.equal(await refusalOf(gw[1], "limit-fleet"), CONNECT_ERROR_CODE.tooManyConnections);
    const counts = Object.values(userHash(topo, "limit-fleet").hash).map((v) => Number(v.split(":")[0])).sort();
    assert.deepEqual(counts, [2, 3], "one field per gateway process");
  });

  it("admits exactly five of ten simultaneous connections split over two gateways (atomic check)", async () => {
    const token = await mintDevToken({ sub: "limit-race" });
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => tryConnect(gw[i % 2], NAMESPACE.calls, token)));
    const admitted = outcomes.filter((o) => o.client).length;
    const refused = outcomes.filter((o) => o.refused?.code === CONNECT_ERROR_CODE.tooManyConnections).length;
    assert.deepEqual({ admitted, refused }, { admitted: 5, refused: 5 });
  });

  it("gives back the slots of a gateway killed with SIGKILL within the lease", async (t) => {
    const [port] = await freePorts(1);
    const doomed: GatewayProcess = await topo.startGateway(port);
    for (let i = 0; i < 3; i++) await connectAs(doomed.url, "limit-crash");
    for (let i = 0; i < 2; i++) await connectAs(gw[0], "limit-crash");
    assert.equal(await refusalOf(gw[0], "limit-crash"), CONNECT_ERROR_CODE.tooManyConnections);

    const killedAt = Date.now();
    doomed.signal("SIGKILL");
    await doomed.exited;
    // Renewals run every lease/3, so at the kill at least 2/3 of a lease
    // (4 s) remained: the dead gateway's three still count right after it.
    assert.equal(await refusalOf(gw[0], "limit-crash"), CONNECT_ERROR_CODE.tooManyConnections, "the dead gateway's connections still count within the lease");

    // Bound: the lease (6 s) plus 6 s for a loaded 2-core machine.
    const back = await waitFor("the dead gateway's slots to expire", async () => (await tryConnect(gw[1], NAMESPACE.calls, await mintDevToken({ sub: "limit-crash" }))).client, (LEASE_SECONDS + 6) * 1000);
    t.diagnostic(`slots back ${Date.now() - killedAt} ms after SIGKILL (lease ${LEASE_SECONDS} s)`);
    assert.ok(Date.now() - killedAt <= (LEASE_SECONDS + 6) * 1000);
    await connectAs(gw[1], "limit-crash");
    await connectAs(gw[1], "limit-crash");
    assert.equal(await refusalOf(gw[0], "limit-crash"), CONNECT_ERROR_CODE.tooManyConnections, "back to exactly five: 2 + 3 new");
    back.socket.close();
  });

  it("keeps the survivors' counts alive by renewing them past the lease", async () => {
    for (let i = 0; i < 5; i++) await connectAs(gw[1], "limit-renew");
    await new Promise((r) => setTimeout(r, (LEASE_SECONDS + 2) * 1000));
    assert.equal(await refusalOf(gw[0], "limit-renew"), CONNECT_ERROR_CODE.tooManyConnections, "renewed counts still count after a whole lease");
  });

  it("rewrites the counts a restarted Redis node lost, at the next renewal", async () => {
    for (let i = 0; i < 4; i++) await connectAs(gw[0], "limit-lost");
    const { port } = userHash(topo, "limit-lost");
    // No persistence (--save ""): the node comes back empty, as a replaced one would.
    topo.redis.signal(port, "SIGKILL");
    await waitFor("the node to exit", async () => (topo.redis.nodes.find((n) => n.port === port)!.process ? undefined : true), 5000);
    await topo.redis.restart(port);
    await topo.redis.waitHealthy();
    // Renewals run every lease/3 = 2 s; bound: one lease plus slack for a loaded machine.
    const restored = await waitFor("the count to be rewritten", async () => {
      const values = Object.values(userHash(topo, "limit-lost").hash);
      return values.length === 1 && values[0].startsWith("4:") ? values[0] : undefined;
    }, (LEASE_SECONDS + 6) * 1000);
    assert.match(restored, /^4:\d+$/);
    await waitFor("gateways ready again", async () => ((await topo.gateways[0].readyz()).status === 200 ? true : undefined));
    await connectAs(gw[1], "limit-lost");
    assert.equal(await refusalOf(gw[1], "limit-lost"), CONNECT_ERROR_CODE.tooManyConnections);
  });
});

describe("per-user connection limit when Redis does not answer", () => {
  let topo: Topology;
  let failOpen: GatewayProcess;
  let failClosed: GatewayProcess;

  before(async () => {
    topo = await startTopology({ gateways: 1, gatewayEnv: LIMIT_ENV });
    failOpen = topo.gateways[0];
    const [port] = await freePorts(1);
    failClosed = await topo.startGateway(port, { CONNECTION_LIMIT_ON_REDIS_ERROR: "closed" });
  });
  after(async () => {
    closeAllClients();
    for (const n of topo?.redis.nodes ?? []) topo.redis.signal(n.port, "SIGCONT");
    await topo?.stop();
  });

  it("fails open by default (logged and counted) and closed when configured", async () => {
    for (const n of topo.redis.nodes) topo.redis.signal(n.port, "SIGSTOP");
    try {
      const before = await metricSum(failOpen.url, 'connection_limit_store_errors_total{operation="admit",decision="admitted"}');
      const admitted = await tryConnect(failOpen.url, NAMESPACE.calls, await mintDevToken({ sub: "redis-away" }));
      assert.ok(admitted.client, `fail open admits: ${JSON.stringify(admitted.refused)}`);
      assert.equal((await metricSum(failOpen.url, 'connection_limit_store_errors_total{operation="admit",decision="admitted"}')) - before, 1);
      assert.ok(failOpen.output.some((l) => /connection limit: redis did not answer/.test(l)));

      const refused = await tryConnect(failClosed.url, NAMESPACE.calls, await mintDevToken({ sub: "redis-away" }));
      assert.equal(refused.refused?.code, CONNECT_ERROR_CODE.unavailable);
    } finally {
      for (const n of topo.redis.nodes) topo.redis.signal(n.port, "SIGCONT");
    }
    const back = await waitFor("fail-closed gateway to admit again", async () => (await tryConnect(failClosed.url, NAMESPACE.calls, await mintDevToken({ sub: "redis-back" }))).client, 15_000);
    assert.ok(back.socket.connected);
  });
});
