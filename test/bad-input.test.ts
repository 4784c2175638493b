/**
 * Bad input gets a stable error code, changes nothing and leaves the
 * connection open; input without an ack callback is dropped and counted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { CLIENT_EVENT, ERROR_CODE, NAMESPACE, SERVER_EVENT, callRoom } from "../gateway/src/protocol.js";
import { DEV_TENANT } from "../topology/dev-auth.js";
import { closeAllClients, collect, connectClient, sleep } from "./support/clients.js";

const BAD_CALL_IDS: Array<[string, unknown]> = [
  ["a number", 42],
  ["an object", { id: "x" }],
  ["an array", ["x"]],
  ["null", null],
  ["a boolean", true],
  ["an empty string", ""],
  ["braces (a Redis hash tag)", "{x}"],
  ["a hash tag inside", "ab{c}d"],
  ["a colon", "tenant:call"],
  ["a space", "a b"],
  ["a slash", "../x"],
  ["unicode", "callé"],
  ["65 characters", "a".repeat(65)],
  ["a megabyte of text", "x".repeat(1024 * 1024)],
];

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

describe("bad client input", () => {
  let topo: Topology;
  let url = "";

  before(async () => {
    // Frames up to 2 MB here, so the megabyte-long id reaches validation
    // instead of being cut at the frame limit.
    topo = await startTopology({ gateways: 1, gatewayEnv: { MAX_FRAME_BYTES: String(2 * 1024 * 1024) } });
    url = topo.gateways[0].url;
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  for (const event of [CLIENT_EVENT.join, CLIENT_EVENT.leave, CLIENT_EVENT.callEvent] as const) {
    for (const [label, callId] of BAD_CALL_IDS) {
      it(`${event} with ${label} as callId gets invalid_call_id and the connection survives`, async () => {
        const client = await connectClient(url, NAMESPACE.calls);
        const payload = event === CLIENT_EVENT.callEvent ? { callId, type: "t", data: {} } : { callId };
        const ack = await client.socket.timeout(5000).emitWithAck(event, payload);
        assert.equal(ack.ok, false);
        assert.equal(ack.error.code, ERROR_CODE.invalidCallId);
        assert.equal(typeof ack.error.message, "string");
        assert.ok(ack.error.message.length < 200, "the message does not echo a huge value");
        assert.equal(client.socket.connected, true);
        const ok = await client.socket.emitWithAck(CLIENT_EVENT.join, { callId: "still-works" });
        assert.deepEqual(ok, { ok: true, room: callRoom(DEV_TENANT, "still-works") });
      });
    }
  }

  it("watch in /dashboard validates the same way", async () => {
    const client = await connectClient(url, NAMESPACE.dashboard);
    for (const [, callId] of BAD_CALL_IDS.slice(0, 8)) {
      const ack = await client.socket.emitWithAck(CLIENT_EVENT.watch, { callId });
      assert.equal(ack.error?.code, ERROR_CODE.invalidCallId);
    }
    assert.equal(client.socket.connected, true);
  });

  const BAD_PAYLOADS: Array<[string, unknown, string]> = [
    ["no payload", undefined, ERROR_CODE.invalidPayload],
    ["a string payload", "x", ERROR_CODE.invalidPayload],
    ["an array payload", [1, 2], ERROR_CODE.invalidPayload],
    ["a missing callId", {}, ERROR_CODE.invalidCallId],
  ];
  for (const [label, payload, code] of BAD_PAYLOADS) {
    it(`join with ${label} gets ${code}`, async () => {
      const client = await connectClient(url, NAMESPACE.calls);
      const ack = payload === undefined ? await client.socket.emitWithAck(CLIENT_EVENT.join) : await client.socket.emitWithAck(CLIENT_EVENT.join, payload);
      assert.equal(ack.error.code, code);
    });
  }

  it("call:event checks type, data size and membership, and changes nothing", async () => {
    const sender = await connectClient(url, NAMESPACE.calls);
    const member = await connectClient(url, NAMESPACE.calls);
    await member.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c1" });
    const got = collect(member.socket, SERVER_EVENT.callEvent);
    const notInCall = await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "c1", type: "t", data: 1 });
    assert.equal(notInCall.error.code, ERROR_CODE.notInCall);
    await sender.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c1" });
    const badType = await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "c1", type: { x: 1 }, data: 1 });
    assert.equal(badType.error.code, ERROR_CODE.invalidEventType);
    const tooBig = await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "c1", type: "t", data: "x".repeat(20_000) });
    assert.equal(tooBig.error.code, ERROR_CODE.dataTooLarge);
    await sleep(200);
    assert.equal(got.length, 0, "no refused event was delivered");
  });

  it("drops and counts bad events sent without an ack callback", async () => {
    const client = await connectClient(url, NAMESPACE.calls);
    const before = await metric(url, 'socket_io_events_dropped_total{namespace="/calls",event="join",code="invalid_call_id"}');
    client.socket.emit(CLIENT_EVENT.join, { callId: "{bad}" });
    client.socket.emit(CLIENT_EVENT.join, 12);
    client.socket.emit(CLIENT_EVENT.join, { callId: "x".repeat(1000) });
    await sleep(300);
    const after = await metric(url, 'socket_io_events_dropped_total{namespace="/calls",event="join",code="invalid_call_id"}');
    assert.equal(after - before, 2);
    assert.equal(client.socket.connected, true);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });
});
