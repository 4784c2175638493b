/**
 * /healthz says the process runs; /readyz says whether it should get new
 * connections: 503 with a reason whenever Redis cannot be reached.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { freePorts, startGatewayProcess, startTopology, type GatewayProcess, type Topology } from "../topology/index.js";
import { sleep } from "./support/clients.js";

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("readiness", () => {
  const started: Array<GatewayProcess | Topology> = [];
  after(async () => {
    for (const s of started) await s.stop();
  });

  it("answers /healthz 200 and /readyz 503 while Redis cannot be reached at start", async () => {
    const [port, deadRedis] = await freePorts(2);
    const gw = startGatewayProcess({ port, env: { REDIS_MODE: "cluster", REDIS_NODES: `127.0.0.1:${deadRedis}` } });
    started.push(gw);
    const ready = await waitFor("/readyz to answer", async () => gw.readyz());
    assert.equal(ready.status, 503);
    assert.equal(ready.body.ready, false);
    assert.match(ready.body.reason, /redis/);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    await sleep(1500);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, "the process survives repeated connection failures");
  });

  it("turns /readyz to 503 naming the shard when a primary stops answering, and back to 200", async () => {
    const topo = await startTopology({ gateways: 1 });
    started.push(topo);
    const gw = topo.gateways[0];
    assert.equal((await gw.readyz()).status, 200);
    const victim = topo.redis.nodes[1].port;
    topo.redis.signal(victim, "SIGSTOP");
    const down = await waitFor("/readyz 503", async () => {
      const r = await gw.readyz();
      return r.status === 503 ? r : undefined;
    });
    assert.match(down.body.reason, new RegExp(`127\\.0\\.0\\.1:${victim}`));
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    topo.redis.signal(victim, "SIGCONT");
    await waitFor("/readyz 200 again", async () => ((await gw.readyz()).status === 200 ? true : undefined));
  });

  it("turns /readyz to 503 when every Redis node is gone, without crashing", async () => {
    const topo = await startTopology({ gateways: 1 });
    started.push(topo);
    const gw = topo.gateways[0];
    for (const n of topo.redis.nodes) topo.redis.signal(n.port, "SIGKILL");
    const down = await waitFor("/readyz 503", async () => {
      const r = await gw.readyz();
      return r.status === 503 ? r : undefined;
    });
    assert.match(down.body.reason, /redis/);
    await sleep(2000);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    assert.equal(gw.child.exitCode, null, "the gateway is still running");
    assert.equal(gw.child.signalCode, null);
  });
});
