/**
 * Pins gateway/src/channels.ts (which the emitter writes with) against the
 * installed @socket.io/redis-adapter: a real Socket.IO server with the
 * gateway's own adapter, over a real Redis cluster, through a client that
 * records what the adapter SSUBSCRIBEs and SPUBLISHes on its way to Redis.
 * If an adapter upgrade renames channels or changes the message format, this
 * fails, instead of the emitter's messages silently going nowhere.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decode as msgpackDecode } from "notepack.io";
import { createCluster } from "redis";
import { Server } from "socket.io";
import { MessageType } from "socket.io-adapter";
import { createBusAdapter } from "../gateway/src/adapter.js";
import type { Bus } from "../gateway/src/bus.js";
import {
  MESSAGE_TYPE_BROADCAST,
  broadcastChannel,
  broadcastMessage,
  encodeMessage,
  namespaceChannel,
  roomChannel,
} from "../gateway/src/channels.js";
import { NAMESPACE } from "../gateway/src/protocol.js";
import { createShardedEmitter } from "../emitter/index.js";
import { startTopology, type Topology } from "../topology/index.js";
import { sleep } from "./support/clients.js";

type Published = { channel: string; message: string | Buffer };

function decode(raw: string | Buffer): any {
  const buf = Buffer.from(raw);
  return buf[0] === 0x7b ? JSON.parse(buf.toString()) : msgpackDecode(buf);
}

describe("channel naming and message format pinned against the installed sharded adapter", () => {
  let topo: Topology;
  let pub: any;
  let sub: any;
  let io: Server;
  const subscribed: string[] = [];
  const published: Published[] = [];

  before(async () => {
    topo = await startTopology({ gateways: 0 });
    pub = createCluster({ rootNodes: topo.redis.seeds.split(",").map((s) => ({ url: `redis://${s}` })) });
    sub = pub.duplicate();
    await pub.connect();
    await sub.connect();
    // Real clients underneath; the wrappers only note the channel names and payloads on the way.
    const recordingPub = {
      // The adapter recognises a node-redis client by its sSubscribe method.
      sSubscribe: () => assert.fail("the adapter subscribes on the sub client only"),
      sPublish: (channel: string, message: string | Buffer) => {
        published.push({ channel, message });
        return pub.sPublish(channel, message);
      },
    };
    const recordingSub = {
      sSubscribe: (channel: string, listener: unknown, buffers: boolean) => {
        subscribed.push(channel);
        return sub.sSubscribe(channel, listener, buffers);
      },
      sUnsubscribe: (channel: string) => sub.sUnsubscribe(channel),
    };
    io = new Server({ adapter: createBusAdapter({ pub: recordingPub, sub: recordingSub } as unknown as Bus, 2000) });
  });
  after(async () => {
    // Closing the adapters unsubscribes their channels; io.close() would also close an HTTP server this test never made.
    for (const nsp of (io as any)?._nsps.values() ?? []) await nsp.adapter.close();
    await Promise.allSettled([sub?.close(), pub?.close()]);
    await topo?.stop();
  });

  it("uses the adapter's message type for broadcasts", () => {
    assert.equal(MESSAGE_TYPE_BROADCAST, MessageType.BROADCAST);
  });

  it("subscribes to the namespace channel and to one channel per room under the names channels.ts gives", async () => {
    const nsp = io.of(NAMESPACE.calls);
    const rooms = ["call:abc", "call:acme:abc", "call:123456789012345"];
    await nsp.adapter.addAll("AAAAAAAAAAAAAAAAAAAA", new Set(rooms));
    assert.ok(subscribed.includes(namespaceChannel(NAMESPACE.calls)), `subscribed: ${subscribed.join(" ")}`);
    for (const room of rooms) {
      assert.ok(subscribed.includes(roomChannel(NAMESPACE.calls, room)), `${roomChannel(NAMESPACE.calls, room)} in ${subscribed.join(" ")}`);
    }
    // And the names are what the README and the dashboards document.
    assert.equal(roomChannel("/calls", "call:abc"), "socket.io#/calls#call:abc#");
    assert.equal(namespaceChannel("/dashboard"), "socket.io#/dashboard#");
  });

  const cases: Array<{ name: string; rooms: string[]; except: string[]; args: unknown[] }> = [
    { name: "one room", rooms: ["call:abc"], except: [], args: [{ callId: "abc", type: "status", data: { state: "ringing" } }] },
    { name: "one tenant room", rooms: ["call:acme:abc"], except: [], args: [{ a: 1 }, "two", 3] },
    { name: "a 20-character room (socket-id-like: namespace channel)", rooms: ["call:123456789012345"], except: [], args: [null] },
    { name: "two rooms (namespace channel)", rooms: ["call:abc", "call:def"], except: [], args: [{ n: 1 }] },
    { name: "the whole namespace", rooms: [], except: [], args: [] },
    { name: "a room except another", rooms: ["call:abc"], except: ["call:def", "AAAAAAAAAAAAAAAAAAAA"], args: [true] },
    { name: "binary payload (MessagePack)", rooms: ["call:abc"], except: [], args: [{ audio: Buffer.from([0, 1, 2, 255]), seq: 7 }, Buffer.from("raw")] },
  ];

  for (const c of cases) {
    it(`publishes ${c.name} to the channel and in the bytes channels.ts computes`, async () => {
      const nsp = io.of(NAMESPACE.calls);
      const uid = (nsp.adapter as unknown as { uid: string }).uid;
      published.length = 0;
      nsp.to(c.rooms).except(c.except).emit("probe:event", ...c.args);
      await sleep(50);
      assert.equal(published.length, 1, "the adapter published once");
      const fromAdapter = published[0];

      assert.equal(broadcastChannel(NAMESPACE.calls, c.rooms), fromAdapter.channel);
      const ours = encodeMessage(broadcastMessage({ uid, nsp: NAMESPACE.calls, rooms: c.rooms, except: c.except, event: "probe:event", args: c.args }));
      assert.equal(typeof ours, typeof fromAdapter.message, "same encoding (JSON text or MessagePack bytes)");
      assert.ok(Buffer.from(ours).equals(Buffer.from(fromAdapter.message)), `bytes differ:\n ours    ${Buffer.from(ours).toString("hex")}\n adapter ${Buffer.from(fromAdapter.message).toString("hex")}`);

      // The emitter itself, end to end through its own code path.
      const emitted: Published[] = [];
      const emitter = createShardedEmitter({
        sPublish: async (channel, message) => {
          emitted.push({ channel, message });
          return pub.sPublish(channel, message);
        },
      });
      let target = emitter.of(NAMESPACE.calls);
      if (c.rooms.length) target = target.to(c.rooms);
      if (c.except.length) target = target.except(c.except);
      const receipt = await target.emit("probe:event", ...c.args);
      assert.equal(emitted[0].channel, fromAdapter.channel);
      assert.equal(receipt.channel, fromAdapter.channel);
      const a = decode(fromAdapter.message);
      const e = decode(emitted[0].message);
      assert.notEqual(e.uid, a.uid, "the emitter's uid is not the adapter's (the adapter drops its own messages)");
      assert.deepEqual({ ...e, uid: undefined }, { ...a, uid: undefined });
    });
  }
});
