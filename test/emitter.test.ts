/**
 * The sharded emitter from a separate Node.js process (not a gateway) into
 * rooms served by two real gateway processes over a real 3-shard cluster.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { namespaceChannel, roomChannel } from "../gateway/src/channels.js";
import { CLIENT_EVENT, ERROR_CODE, NAMESPACE, SERVER_EVENT } from "../gateway/src/protocol.js";
import { serviceCallEvent } from "../gateway/src/service-events.js";
import { startTopology, type Topology } from "../topology/index.js";
import { closeAllClients, collect, connectClient, nextEvent, sleep, type ConnectedClient } from "./support/clients.js";
import { startEmitterProcess, type EmitterProcess } from "./support/emitter-process.js";

describe("sharded emitter from a separate process", () => {
  let topo: Topology;
  let service: EmitterProcess;
  let inCallOnA: ConnectedClient;
  let inCallOnB: ConnectedClient;
  let otherCallOnA: ConnectedClient;
  let dashboardOnB: ConnectedClient;

  before(async () => {
    topo = await startTopology({ gateways: 2 });
    const [a, b] = topo.gateways.map((g) => g.url);
    service = await startEmitterProcess(topo.redis.seeds);
    inCallOnA = await connectClient(a, NAMESPACE.calls);
    inCallOnB = await connectClient(b, NAMESPACE.calls);
    otherCallOnA = await connectClient(a, NAMESPACE.calls);
    dashboardOnB = await connectClient(b, NAMESPACE.dashboard);
    await inCallOnA.socket.emitWithAck(CLIENT_EVENT.join, { callId: "emit-1" });
    await inCallOnB.socket.emitWithAck(CLIENT_EVENT.join, { callId: "emit-1" });
    await otherCallOnA.socket.emitWithAck(CLIENT_EVENT.join, { callId: "emit-2" });
  });
  after(async () => {
    closeAllClients();
    await service?.stop();
    await topo?.stop();
  });

  it("reaches the room's members on both gateways and nobody else", async () => {
    const payload = serviceCallEvent({ room: "call:acme:emit-1", type: "status", data: { state: "ringing" }, service: "router" });
    const others = [collect(otherCallOnA.socket, SERVER_EVENT.callEvent), collect(dashboardOnB.socket, SERVER_EVENT.callEvent)];
    const got = [inCallOnA, inCallOnB].map((c) => nextEvent(c.socket, SERVER_EVENT.callEvent));
    const r = await service.emit({ namespace: NAMESPACE.calls, rooms: ["call:acme:emit-1"], event: SERVER_EVENT.callEvent, args: [payload] });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.receipt.channel, roomChannel(NAMESPACE.calls, "call:acme:emit-1"));
    assert.equal(r.receipt.receivers, 2, "both gateways subscribe to the room's channel");
    for (const event of await Promise.all(got)) assert.deepEqual(event, payload);
    await sleep(300);
    assert.deepEqual(others.map((o) => o.length), [0, 0]);
  });

  it("reaches several rooms at once (over the namespace channel) and honours except", async () => {
    const got = [inCallOnA, inCallOnB, otherCallOnA].map((c) => nextEvent(c.socket, "note"));
    const r = await service.emit({ namespace: NAMESPACE.calls, rooms: ["call:acme:emit-1", "call:acme:emit-2"], event: "note", args: ["both"] });
    assert.equal(r.receipt.channel, namespaceChannel(NAMESPACE.calls));
    assert.deepEqual(await Promise.all(got), ["both", "both", "both"]);

    const excluded = collect(inCallOnB.socket, "note");
    const toA = nextEvent(inCallOnA.socket, "note");
    await service.emit({ namespace: NAMESPACE.calls, rooms: ["call:acme:emit-1"], except: [inCallOnB.socket.id!], event: "note", args: ["not B"] });
    assert.equal(await toA, "not B");
    await sleep(300);
    assert.deepEqual(excluded, [], "the excepted socket got nothing");

    const excludedRoom = collect(otherCallOnA.socket, "note2");
    const included = [inCallOnA, inCallOnB].map((c) => nextEvent(c.socket, "note2"));
    await service.emit({ namespace: NAMESPACE.calls, except: ["call:acme:emit-2"], event: "note2", args: ["not emit-2"] });
    assert.deepEqual(await Promise.all(included), ["not emit-2", "not emit-2"]);
    await sleep(300);
    assert.deepEqual(excludedRoom, [], "the excepted room got nothing");
  });

  it("a namespace-wide emit reaches every socket of the namespace, and only that namespace", async () => {
    const dashboardGot = collect(dashboardOnB.socket, "announce");
    const got = [inCallOnA, inCallOnB, otherCallOnA].map((c) => nextEvent(c.socket, "announce"));
    const r = await service.emit({ namespace: NAMESPACE.calls, event: "announce", args: [{ maintenance: "22:00" }] });
    assert.equal(r.receipt.channel, namespaceChannel(NAMESPACE.calls));
    assert.equal(r.receipt.receivers, 2, "both gateways subscribe to the namespace channel");
    assert.deepEqual(await Promise.all(got), [{ maintenance: "22:00" }, { maintenance: "22:00" }, { maintenance: "22:00" }]);
    await sleep(300);
    assert.deepEqual(dashboardGot, []);
  });

  it("delivers to a 20-character room, which the adapter routes over the namespace channel", async () => {
    const member = await connectClient(topo.gateways[1].url, NAMESPACE.calls);
    const ack = await member.socket.emitWithAck(CLIENT_EVENT.join, { callId: "1234567890" });
    assert.equal(ack.room.length, 20);
    const got = nextEvent(member.socket, "note");
    const r = await service.emit({ namespace: NAMESPACE.calls, rooms: [ack.room], event: "note", args: ["twenty"] });
    assert.equal(r.receipt.channel, namespaceChannel(NAMESPACE.calls));
    assert.equal(await got, "twenty");
  });

  it("carries binary data intact (MessagePack on the bus, a binary frame to the client)", async () => {
    const audio = Buffer.alloc(4096);
    for (let i = 0; i < audio.length; i++) audio[i] = (i * 7) % 256;
    const got = [inCallOnA, inCallOnB].map((c) => nextEvent<{ seq: number; chunk: ArrayBuffer | Buffer }>(c.socket, "audio"));
    const r = await service.emit({
      namespace: NAMESPACE.calls,
      rooms: ["call:acme:emit-1"],
      event: "audio",
      args: [{ seq: 42, chunk: { $binary: audio.toString("base64") } }],
    });
    assert.equal(r.ok, true, JSON.stringify(r));
    for (const { seq, chunk } of await Promise.all(got)) {
      assert.equal(seq, 42);
      assert.ok(Buffer.from(chunk as ArrayBuffer).equals(audio), "the bytes arrived unchanged");
    }
  });

  it("refuses bad input with a stable code and publishes nothing", async () => {
    const got = collect(inCallOnA.socket, "x");
    const bad: Array<[Parameters<EmitterProcess["emit"]>[0], string]> = [
      [{ namespace: NAMESPACE.calls, rooms: ["call:{slot}"], event: "x" }, ERROR_CODE.invalidRoom],
      [{ namespace: NAMESPACE.calls, rooms: ["lobby"], event: "x" }, ERROR_CODE.invalidRoom],
      [{ namespace: "/admin", rooms: ["call:acme:emit-1"], event: "x" }, ERROR_CODE.invalidNamespace],
      [{ namespace: NAMESPACE.calls, rooms: ["call:acme:emit-1"], event: "disconnect" }, ERROR_CODE.invalidEvent],
      [{ namespace: NAMESPACE.calls, rooms: ["call:acme:emit-1"], event: "x", args: ["y".repeat(70_000)] }, ERROR_CODE.dataTooLarge],
    ];
    for (const [command, code] of bad) {
      const r = await service.emit(command);
      assert.equal(r.ok, false, JSON.stringify(command).slice(0, 200));
      assert.equal(r.error.code, code, r.error.message);
    }
    await sleep(300);
    assert.deepEqual(got, []);
  });
});
