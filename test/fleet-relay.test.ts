/**
 * The walking skeleton's promise: a room broadcast on one gateway process
 * reaches the room's members on every other process, through a real 3-shard
 * Redis cluster, and dashboard watchers on a third process see it too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freePorts, startTopology, type Topology } from "../topology/index.js";
import { CLIENT_EVENT, NAMESPACE, SERVER_EVENT, callRoom, type RelayedCallEvent } from "../gateway/src/protocol.js";
import { DEV_TENANT } from "../topology/dev-auth.js";
import { closeAllClients, collect, connectClient, nextEvent, sleep } from "./support/clients.js";

describe("relay across gateways through a 3-shard Redis cluster", () => {
  let topo: Topology;
  let [a, b, c] = ["", "", ""];

  before(async () => {
    topo = await startTopology({ gateways: 3 });
    [a, b, c] = topo.gateways.map((g) => g.url);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("delivers a call:event from gateway B to a member on gateway A and a watcher on gateway C", async () => {
    const callId = "x";
    const onA = await connectClient(a, NAMESPACE.calls);
    const onB = await connectClient(b, NAMESPACE.calls);
    const watcherOnC = await connectClient(c, NAMESPACE.dashboard);
    assert.deepEqual(await onA.socket.emitWithAck(CLIENT_EVENT.join, { callId }), { ok: true, room: callRoom(DEV_TENANT, "x") });
    assert.deepEqual(await onB.socket.emitWithAck(CLIENT_EVENT.join, { callId }), { ok: true, room: callRoom(DEV_TENANT, "x") });
    assert.deepEqual(await watcherOnC.socket.emitWithAck(CLIENT_EVENT.watch, { callId }), { ok: true, room: callRoom(DEV_TENANT, "x") });

    const senderGot = collect(onB.socket, SERVER_EVENT.callEvent);
    const atA = nextEvent<RelayedCallEvent>(onA.socket, SERVER_EVENT.callEvent);
    const atC = nextEvent<RelayedCallEvent>(watcherOnC.socket, SERVER_EVENT.callEvent);
    const before = Date.now();
    const ack = await onB.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId, type: "transcript", data: { text: "hi" } });
    assert.deepEqual(ack, { ok: true });

    for (const got of [await atA, await atC]) {
      assert.equal(got.callId, callId);
      assert.equal(got.type, "transcript");
      assert.deepEqual(got.data, { text: "hi" });
      assert.equal(got.from, onB.socket.id);
      assert.equal(got.via, "gw-" + topo.gateways[1].port);
      assert.ok(got.ts >= before - 1000 && got.ts <= Date.now(), `ts ${got.ts} is the server's clock`);
    }
    await sleep(200);
    assert.equal(senderGot.length, 0, "the sender does not receive its own event");
  });

  it("does not deliver to members of other calls or to a member who left", async () => {
    const sender = await connectClient(a, NAMESPACE.calls);
    const leaver = await connectClient(b, NAMESPACE.calls);
    const elsewhere = await connectClient(c, NAMESPACE.calls);
    await sender.socket.emitWithAck(CLIENT_EVENT.join, { callId: "room-1" });
    await leaver.socket.emitWithAck(CLIENT_EVENT.join, { callId: "room-1" });
    await elsewhere.socket.emitWithAck(CLIENT_EVENT.join, { callId: "room-2" });
    assert.deepEqual(await leaver.socket.emitWithAck(CLIENT_EVENT.leave, { callId: "room-1" }), { ok: true });
    const leaverGot = collect(leaver.socket, SERVER_EVENT.callEvent);
    const elsewhereGot = collect(elsewhere.socket, SERVER_EVENT.callEvent);
    assert.deepEqual(await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "room-1", type: "status", data: 1 }), { ok: true });
    await sleep(300);
    assert.equal(leaverGot.length, 0);
    assert.equal(elsewhereGot.length, 0);
  });

  it("spreads room channels over the shards (one sharded channel per room, dynamic mode)", async () => {
    const members = [];
    for (let i = 0; i < 30; i++) {
      const m = await connectClient([a, b, c][i % 3], NAMESPACE.calls);
      await m.socket.emitWithAck(CLIENT_EVENT.join, { callId: `spread-${i}` });
      members.push(m);
    }
    await sleep(200);
    const perShard = topo.redis.nodes.map((n) =>
      topo.redis.cli(n.port, "PUBSUB", "SHARDCHANNELS", `socket.io#/calls#${callRoom(DEV_TENANT, "spread-")}*`).trim().split("\n").filter(Boolean).length,
    );
    assert.equal(perShard.reduce((x, y) => x + y, 0), 30, `channels per shard: ${perShard}`);
    assert.ok(perShard.every((n) => n > 0), `every shard carries some rooms: ${perShard}`);
  });
});

describe("a fleet mixing the lean engine and the stock engine (ENGINE=stock)", () => {
  let topo: Topology;
  let lean = "";
  let stock = "";

  before(async () => {
    topo = await startTopology({ gateways: 1 });
    lean = topo.gateways[0].url;
    const [port] = await freePorts(1);
    stock = (await topo.startGateway(port, { ENGINE: "stock" })).url;
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("relays both ways between a lean gateway and a stock one, and frees the user's slot on disconnect with either", async () => {
    const onLean = await connectClient(lean, NAMESPACE.calls);
    const onStock = await connectClient(stock, NAMESPACE.calls);
    for (const m of [onLean, onStock]) assert.deepEqual(await m.socket.emitWithAck(CLIENT_EVENT.join, { callId: "mixed" }), { ok: true, room: callRoom(DEV_TENANT, "mixed") });
    for (const [from, to] of [[onLean, onStock], [onStock, onLean]]) {
      const got = nextEvent<RelayedCallEvent>(to.socket, SERVER_EVENT.callEvent);
      assert.deepEqual(await from.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "mixed", type: "t", data: from === onLean ? "lean" : "stock" }), { ok: true });
      assert.equal((await got).data, from === onLean ? "lean" : "stock");
    }
    const leases = () => topo.redis.nodes.map((n) => topo.redis.cli(n.port, "--scan", "--pattern", "conn:{*").trim()).join("\n").split("\n").filter(Boolean);
    assert.ok(leases().length > 0, "connected users hold leases");
    onLean.socket.disconnect();
    onStock.socket.disconnect();
    let left = leases();
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await sleep(100);
      left = leases();
    }
    assert.deepEqual(left, [], "both users' slots were released");
  });
});
