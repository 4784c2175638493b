/**
 * An emitter message is delivered after the primary that owns the room's
 * channel slot is killed: the replica takes over (cluster-node-timeout 2 s
 * here, plus the election), and the service, retrying as
 * docs/publishing.md says, publishes on the new primary.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { roomChannel } from "../gateway/src/channels.js";
import { CLIENT_EVENT, NAMESPACE } from "../gateway/src/protocol.js";
import { startTopology, type Topology } from "../topology/index.js";
import { closeAllClients, connectClient, nextEvent, sleep, type ConnectedClient } from "./support/clients.js";
import { startEmitterProcess, type EmitterProcess } from "./support/emitter-process.js";
import { primaryFor } from "../faults/cluster.js";

const ROOM = "call:acme:failover";
const NODE_TIMEOUT_MS = 2000;

describe("emitter delivery across a broker failover", () => {
  let topo: Topology;
  let service: EmitterProcess;
  let members: ConnectedClient[];

  before(async () => {
    topo = await startTopology({ gateways: 2, replicasPerPrimary: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
    service = await startEmitterProcess(topo.redis.seeds);
    members = [await connectClient(topo.gateways[0].url, NAMESPACE.calls), await connectClient(topo.gateways[1].url, NAMESPACE.calls)];
    for (const m of members) await m.socket.emitWithAck(CLIENT_EVENT.join, { callId: "failover" });
  });
  after(async () => {
    closeAllClients();
    await service?.stop();
    await topo?.stop();
  });

  it("delivers to members on both gateways after the room's primary is SIGKILLed", async () => {
    const before = members.map((m) => nextEvent(m.socket, "status"));
    const first = await service.emit({ namespace: NAMESPACE.calls, rooms: [ROOM], event: "status", args: ["before"] });
    assert.equal(first.receipt.receivers, 2);
    assert.deepEqual(await Promise.all(before), ["before", "before"]);

    const owner = await primaryFor(topo.redis, roomChannel(NAMESPACE.calls, ROOM));
    const killedAt = Date.now();
    topo.redis.signal(owner, "SIGKILL");

    // Each event carries its attempt's sequence number, so what arrives shows which publish got through.
    const received = members.map(() => [] as number[]);
    members.forEach((m, i) => m.socket.on("status", (n: number) => typeof n === "number" && received[i].push(n)));
    const outcomes: string[] = [];
    // One retryPublish call normally suffices (it did in every run so far). Pub/sub keeps nothing, so a
    // publish that lands on the new primary before the gateways have re-subscribed there reaches nobody
    // (receivers 0); the loop then publishes the next event, as a service that must deliver would.
    // Bound: node timeout 2 s + election + the clients' slot refresh and resubscription, on a loaded
    // 2-core machine; 60 s is many times what it takes and still ends the test if it never recovers.
    let seq = 0;
    while (Date.now() - killedAt < 60_000 && !received.every((r) => r.length > 0)) {
      seq++;
      const r = await service.emit({ namespace: NAMESPACE.calls, rooms: [ROOM], event: "status", args: [seq], retry: true }, 70_000);
      outcomes.push(r.ok ? `#${seq} ok after ${r.attempts} attempt(s), receivers ${r.receipt.receivers}` : `#${seq} ${r.error.code}`);
      await sleep(250);
    }
    const newOwner = await primaryFor(topo.redis, roomChannel(NAMESPACE.calls, ROOM));
    console.log(`failover: primary ${owner} killed, slot now on ${newOwner}; ${Date.now() - killedAt} ms to delivery; ${outcomes.join("; ")}`);
    assert.notEqual(newOwner, owner, "a replica took over the slot");
    assert.ok(received.every((r) => r.length > 0), `members received ${JSON.stringify(received)}; publishes: ${outcomes.join("; ")}`);
  });
});
