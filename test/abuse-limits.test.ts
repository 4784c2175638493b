/**
 * A client that floods events, sends an oversized frame or a deeply nested
 * payload, opens connections too fast, or comes from a foreign Origin is
 * refused or cut off as documented, and everyone else on that gateway keeps
 * working.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CLIENT_EVENT, CONNECT_ERROR_CODE, ERROR_CODE, NAMESPACE, SERVER_EVENT } from "../gateway/src/protocol.js";
import { freePorts, startTopology, type GatewayProcess, type Topology } from "../topology/index.js";
import { closeAllClients, connectClient, nextEvent } from "./support/clients.js";
import { connectRefused, metricSum } from "./support/admission.js";

const RATE = 20;
const BURST = 20;
const DISCONNECT_AFTER = 50;
const SLOW_READER_LIMIT = 256 * 1024;

/** Two fresh clients in one call on `url`: an event from one reaches the other. */
async function assertRelayWorks(url: string, label: string): Promise<void> {
  const callId = `bystander-${Math.random().toString(36).slice(2, 8)}`;
  const a = await connectClient(url, NAMESPACE.calls);
  const b = await connectClient(url, NAMESPACE.calls);
  await a.socket.emitWithAck(CLIENT_EVENT.join, { callId });
  await b.socket.emitWithAck(CLIENT_EVENT.join, { callId });
  const got = nextEvent(b.socket, SERVER_EVENT.callEvent);
  assert.deepEqual(await a.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId, type: "ping", data: label }), { ok: true }, label);
  assert.equal((await got).data, label);
  a.socket.close();
  b.socket.close();
}

function disconnected(socket: { once(e: string, f: (reason: string) => void): unknown }, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still connected after ${timeoutMs} ms`)), timeoutMs);
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

function nested(depth: number): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { v };
  return v;
}

describe("rate and size limits", () => {
  let topo: Topology;
  let url = "";
  let ipLimited: GatewayProcess;
  let originChecked: GatewayProcess;
  let bufferLimited: GatewayProcess;

  before(async () => {
    topo = await startTopology({
      gateways: 1,
      gatewayEnv: { EVENT_RATE_PER_SECOND: String(RATE), EVENT_BURST: String(BURST), EVENT_RATE_DISCONNECT_AFTER: String(DISCONNECT_AFTER) },
    });
    url = topo.gateways[0].url;
    const [p1, p2, p3] = await freePorts(3);
    [ipLimited, originChecked, bufferLimited] = await Promise.all([
      topo.startGateway(p1, { CONNECT_RATE_PER_IP: "2", CONNECT_BURST_PER_IP: "3" }),
      topo.startGateway(p2, { ALLOWED_ORIGINS: "https://app.example.com" }),
      topo.startGateway(p3, { MAX_BUFFERED_BYTES: String(SLOW_READER_LIMIT), EVENT_RATE_PER_SECOND: "0" }),
    ]);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("drops events above the rate with a rate_limited ack, counts them, and recovers", async () => {
    const c = await connectClient(url, NAMESPACE.calls);
    await c.socket.emitWithAck(CLIENT_EVENT.join, { callId: "burst" });
    const before = await metricSum(url, 'socket_io_events_dropped_total{namespace="/calls",event="call:event",code="rate_limited"}');
    const started = Date.now();
    const acks = await Promise.all(
      Array.from({ length: 60 }, (_, i) => c.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "burst", type: "n", data: i })),
    );
    const elapsed = (Date.now() - started) / 1000;
    const ok = acks.filter((a) => a.ok).length;
    const limited = acks.filter((a) => !a.ok && a.error.code === ERROR_CODE.rateLimited).length;
    assert.equal(ok + limited, 60, JSON.stringify(acks.find((a) => !a.ok && a.error.code !== ERROR_CODE.rateLimited)));
    // The join took one token; the bucket refills at RATE per second.
    assert.ok(ok <= BURST + Math.ceil(RATE * elapsed), `${ok} accepted in ${elapsed} s`);
    assert.ok(limited >= 1, "some were dropped");
    const after = await metricSum(url, 'socket_io_events_dropped_total{namespace="/calls",event="call:event",code="rate_limited"}');
    assert.equal(after - before, limited);
    assert.equal(c.socket.connected, true, `${limited} drops is within EVENT_RATE_DISCONNECT_AFTER=${DISCONNECT_AFTER}`);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await c.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "burst", type: "n", data: "later" }), { ok: true });
  });

  it("disconnects a client that keeps flooding, and others on the gateway keep working", async () => {
    const flooder = await connectClient(url, NAMESPACE.calls);
    const before = await metricSum(url, "socket_io_rate_limit_disconnects_total");
    const gone = disconnected(flooder.socket);
    for (let i = 0; i < 400 && flooder.socket.connected; i++) flooder.socket.emit(CLIENT_EVENT.join, { callId: "flood" });
    assert.equal(await gone, "transport close");
    assert.equal((await metricSum(url, "socket_io_rate_limit_disconnects_total")) - before, 1);
    await assertRelayWorks(url, "after a flood");
  });

  it("closes the connection that sends a frame over MAX_FRAME_BYTES, not the process", async () => {
    const big = await connectClient(url, NAMESPACE.calls);
    await big.socket.emitWithAck(CLIENT_EVENT.join, { callId: "big" });
    const gone = disconnected(big.socket);
    big.socket.emit(CLIENT_EVENT.callEvent, { callId: "big", type: "t", data: "x".repeat(40_000) });
    assert.equal(await gone, "transport close");
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    await assertRelayWorks(url, "after an oversized frame");
  });

  it("cuts a member that stops reading once MAX_BUFFERED_BYTES is unread, counts it, and keeps the call going", async () => {
    const url = bufferLimited.url;
    const callId = "slow-reader";
    const slow = await connectClient(url, NAMESPACE.calls);
    const sender = await connectClient(url, NAMESPACE.calls);
    const listener = await connectClient(url, NAMESPACE.calls);
    for (const c of [slow, sender, listener]) assert.equal((await c.socket.emitWithAck(CLIENT_EVENT.join, { callId })).ok, true);
    const before = await metricSum(url, "socket_io_slow_clients_cut_total");
    // The member's process stops reading its socket (a stuck main thread, a bug): TCP keeps it open.
    (slow.socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws._socket.pause();
    let heard = 0;
    listener.socket.on(SERVER_EVENT.callEvent, () => heard++);
    // 15 KB events until the gateway cuts the slow member; at most 40 MB, far past the
    // loopback socket buffers and the limit.
    let sent = 0;
    let cut = 0;
    while (sent < 2800 && cut === 0) {
      const acks = await Promise.all(Array.from({ length: 40 }, () => sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId, type: "chunk", data: "z".repeat(15_000) })));
      assert.ok(acks.every((a) => a.ok), JSON.stringify(acks.find((a) => !a.ok)));
      sent += acks.length;
      cut = (await metricSum(url, "socket_io_slow_clients_cut_total")) - before;
    }
    assert.equal(cut, 1, `the slow member was not cut after ${sent} events`);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    // The members that read got every event, and the call still relays.
    const deadline = Date.now() + 5000;
    while (heard < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(heard, sent);
    const last = nextEvent(listener.socket, SERVER_EVENT.callEvent);
    assert.deepEqual(await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId, type: "after", data: "still here" }), { ok: true });
    assert.equal((await last).data, "still here");
  });

  it("refuses deeply nested data with data_too_deep and keeps the connection", async () => {
    const c = await connectClient(url, NAMESPACE.calls);
    await c.socket.emitWithAck(CLIENT_EVENT.join, { callId: "deep" });
    assert.deepEqual(await c.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "deep", type: "t", data: nested(8) }), { ok: true }, "8 levels is the default limit");
    for (const depth of [9, 30, 2000]) {
      const ack = await c.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "deep", type: "t", data: nested(depth) });
      assert.equal(ack.error?.code, ERROR_CODE.dataTooDeep, `depth ${depth}`);
    }
    assert.equal(c.socket.connected, true);
    await assertRelayWorks(url, "after deep payloads");
  });

  it("refuses new connections from one IP above CONNECT_RATE_PER_IP with rate_limited", async () => {
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        connectClient(ipLimited.url, NAMESPACE.calls).then(
          () => "ok",
          (err: { data?: { code: string } }) => err.data?.code ?? "error",
        ),
      ),
    );
    const elapsed = (Date.now() - started) / 1000;
    const ok = outcomes.filter((o) => o === "ok").length;
    assert.ok(outcomes.every((o) => o === "ok" || o === CONNECT_ERROR_CODE.rateLimited), outcomes.join(","));
    assert.ok(ok >= 3 && ok <= 3 + Math.ceil(2 * elapsed), `${ok} of 8 let in over ${elapsed} s (burst 3, 2 per second)`);
    assert.ok((await metricSum(ipLimited.url, 'socket_io_connections_rejected_total{namespace="/calls",reason="rate_limited"}')) >= 1);
  });

  it("lets browsers in only from ALLOWED_ORIGINS; clients without an Origin are not affected", async () => {
    const refused = await connectRefused(originChecked.url, NAMESPACE.calls, { extraHeaders: { origin: "https://evil.example.com" } });
    assert.equal(refused.code, CONNECT_ERROR_CODE.originForbidden);
    const allowed = await connectClient(originChecked.url, NAMESPACE.calls, { extraHeaders: { origin: "https://app.example.com" } });
    assert.equal(allowed.socket.connected, true);
    const noOrigin = await connectClient(originChecked.url, NAMESPACE.calls);
    assert.equal(noOrigin.socket.connected, true);
  });
});
