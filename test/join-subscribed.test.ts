/**
 * A join's ack means the member is reachable from every gateway: an event
 * sent from another gateway right after the ack must arrive (the gateway must
 * have subscribed to the room's channel before acking, not just queued it).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { CLIENT_EVENT, NAMESPACE, SERVER_EVENT } from "../gateway/src/protocol.js";
import { closeAllClients, connectClient, sleep } from "./support/clients.js";

describe("join acks after the room's channel is subscribed", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology({ gateways: 2 });
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("an event sent from another gateway right after the join ack arrives, in 60 fresh rooms", async () => {
    const [a, b] = topo.gateways.map((g) => g.url);
    const sender = await connectClient(a, NAMESPACE.calls);
    const member = await connectClient(b, NAMESPACE.calls);
    const got = new Set<string>();
    member.socket.on(SERVER_EVENT.callEvent, (e: { callId: string }) => got.add(e.callId));
    const rooms = Array.from({ length: 60 }, (_, i) => `fresh-${i}`);
    // The sender joins first, so its gateway is subscribed: only the member's side can race.
    for (const callId of rooms) await sender.socket.emitWithAck(CLIENT_EVENT.join, { callId });
    for (const callId of rooms) {
      await member.socket.emitWithAck(CLIENT_EVENT.join, { callId });
      const ack = await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId, type: "t", data: 1 });
      assert.deepEqual(ack, { ok: true });
    }
    await sleep(500);
    const missed = rooms.filter((r) => !got.has(r));
    assert.deepEqual(missed, [], `missed right after joining: ${missed.length} of ${rooms.length}`);
  });
});
