/**
 * Graceful drain on SIGTERM: /readyz 503 at once, connections served through
 * the grace period, then closed in jittered batches over the window, each
 * told `server:draining` first; the process exits 0. Clients using the
 * client helper land on the other gateway through the balancer and rejoin
 * their calls.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient, type MissedEventGap, type SwitchboardClient } from "../client/switchboard-client.js";
import { startTopology, type Topology } from "../topology/index.js";
import type { RelayedCallEvent, ServerDraining } from "../gateway/src/protocol.js";
import { sleep } from "./support/clients.js";

const GRACE_S = 2;
const WINDOW_S = 6;
const CLIENTS = 40;

describe("graceful drain", () => {
  let topo: Topology;
  const clients: SwitchboardClient[] = [];

  before(async () => {
    topo = await startTopology({
      gateways: 2,
      balancer: true,
      gatewayEnv: { DRAIN_SECONDS: String(WINDOW_S), DRAIN_GRACE_SECONDS: String(GRACE_S) },
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await topo?.stop();
  });

  it("drains a gateway over its window, and its clients carry on on the other one", async () => {
    const lb = `http://127.0.0.1:${topo.balancer!.port}`;
    const [victim, survivor] = topo.gateways;
    const victimId = `gw-${victim.port}`;
    for (let i = 0; i < CLIENTS; i++) {
      const c = createSwitchboardClient(lb, { reconnectMinMs: 200, reconnectMaxMs: 2000 });
      clients.push(c);
      await c.connected();
      assert.equal((await c.join("drain-room")).ok, true);
    }
    const onVictim = clients.filter((c) => c.gateway === victimId);
    assert.ok(onVictim.length >= CLIENTS / 4, `round robin put ${onVictim.length} of ${CLIENTS} on the victim`);

    // Per victim client: when it got server:draining, when it lost the connection.
    const notices = new Map<SwitchboardClient, { at: number; notice: ServerDraining }>();
    const gaps = new Map<SwitchboardClient, MissedEventGap>();
    for (const c of onVictim) c.onGap((g) => gaps.set(c, g));
    let graceTs = 0;
    onVictim[1].onCallEvent((e) => e.type === "during-grace" && (graceTs = e.ts));
    const disconnects = new Map<SwitchboardClient, number>();
    for (const c of onVictim) {
      c.onDraining((notice) => notices.set(c, { at: Date.now(), notice }));
      c.socket.on("disconnect", () => disconnects.set(c, Date.now()));
    }

    const t0 = Date.now();
    const exited = victim.stop(60_000, { drain: true });
    let ready = await victim.readyz();
    for (let i = 0; ready.status === 200 && i < 50; i++) {
      await sleep(20);
      ready = await victim.readyz();
    }
    assert.equal(ready.status, 503);
    assert.equal(ready.body.reason, "draining");
    const readyzOffAfter = Date.now() - t0;

    // Serving through the grace period: a victim client still relays.
    await sleep(GRACE_S * 1000 - 800);
    assert.equal(disconnects.size, 0, "no connection is closed during the grace period");
    const ack = await onVictim[0].send("drain-room", "during-grace", 1);
    assert.deepEqual(ack, { ok: true });

    const code = await exited;
    const exitedAfter = Date.now() - t0;
    assert.equal(code, 0, "the gateway exits 0");
    assert.ok(exitedAfter < (WINDOW_S + 10) * 1000, `exited after ${exitedAfter} ms, window ${WINDOW_S} s`);

    const times = [...disconnects.values()].map((t) => t - t0).sort((a, b) => a - b);
    assert.equal(times.length, onVictim.length, "every client of the victim was disconnected");
    for (const c of onVictim) {
      const n = notices.get(c);
      assert.ok(n, "each client was told why before the disconnect");
      assert.ok(n.at <= disconnects.get(c)!);
      assert.ok(n.notice.reconnectAfterMs >= 250 && n.notice.reconnectAfterMs <= 3000);
    }
    const first = times[0];
    const last = times[times.length - 1];
    // The batches span (window - grace) = 4 s; on a loaded 2-core machine
    // timers slip, so ask for at least half of it, and nothing before the grace.
    assert.ok(first >= GRACE_S * 1000 - 100, `first disconnect at ${first} ms, grace ${GRACE_S} s`);
    assert.ok(last - first >= ((WINDOW_S - GRACE_S) * 1000) / 2, `disconnects spread over ${last - first} ms`);
    const perSecond = new Map<number, number>();
    for (const t of times) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    const peak = Math.max(...perSecond.values());
    assert.ok(peak < onVictim.length, `not all at once: peak ${peak}/s of ${onVictim.length}`);
    console.log(
      `drain: ${onVictim.length} clients, readyz 503 after ${readyzOffAfter} ms, disconnects ${first}..${last} ms, peak ${peak}/s, exit 0 after ${exitedAfter} ms`,
    );

    // Everyone is back, on the survivor, still in the call.
    for (const c of clients) await c.connected();
    assert.ok(clients.every((c) => c.gateway === `gw-${survivor.port}`));
    const got = new Set<SwitchboardClient>();
    for (const c of clients) c.onCallEvent((e: RelayedCallEvent) => e.type === "after-drain" && got.add(c));
    assert.deepEqual(await onVictim[0].send("drain-room", "after-drain", 1), { ok: true });
    const deadline = Date.now() + 5000;
    while (got.size < CLIENTS - 1 && Date.now() < deadline) await sleep(50);
    assert.equal(got.size, CLIENTS - 1, "every other member received the event after rejoining");
    // Each moved member reports the window it may have missed: from the last
    // event before its reconnect to the first one after.
    const moved = onVictim.slice(1);
    assert.ok(graceTs > 0);
    for (const c of moved) {
      const gap = gaps.get(c);
      assert.ok(gap, "a member that reconnected reports a gap");
      assert.equal(gap.callId, "drain-room");
      assert.equal(gap.fromTs, graceTs);
      assert.ok(gap.toTs > gap.fromTs && gap.disconnectedMs >= 0);
    }
  });

  it("a second SIGTERM closes the remaining connections at once", async () => {
    const gw = await topo.startGateway(topo.gateways[0].port, { DRAIN_SECONDS: "120", DRAIN_GRACE_SECONDS: "60" });
    const c = createSwitchboardClient(gw.url, { reconnectMinMs: 200 });
    clients.push(c);
    await c.connected();
    let draining: ServerDraining | undefined;
    c.onDraining((n) => (draining = n));
    const t0 = Date.now();
    gw.signal("SIGTERM");
    await sleep(500);
    assert.equal(c.socket.connected, true, "still connected during the grace period");
    gw.signal("SIGTERM");
    const code = await gw.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 15_000, "forced drain exits promptly");
    assert.ok(draining, "told why even when forced");
  });
});
