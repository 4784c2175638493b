/**
 * The client helper's own contract, against a real Socket.IO server in this
 * process: the token reaches the handshake (and getToken is asked again on
 * every reconnect), reconnect delays are jittered and capped, and a
 * `server:draining` delay is honoured.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Server } from "socket.io";
import { backoffDelay, createSwitchboardClient, type SwitchboardClient } from "../client/switchboard-client.js";
import { NAMESPACE, SERVER_EVENT, type ServerDraining } from "../gateway/src/protocol.js";

describe("client helper", () => {
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"] });
  const tokens: unknown[] = [];
  const clients: SwitchboardClient[] = [];
  let url = "";

  before(async () => {
    io.of(NAMESPACE.calls).on("connection", (socket) => {
      tokens.push((socket.handshake.auth as { token?: unknown }).token);
      socket.emit("server:hello", { gateway: "test" });
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const c of clients) c.close();
    await new Promise<void>((r) => io.close(() => r()));
  });

  it("sends getToken()'s token in the handshake, asking again on each reconnect", async () => {
    let n = 0;
    const c = createSwitchboardClient(url, { getToken: async () => `t${++n}`, reconnectMinMs: 50, reconnectMaxMs: 100 });
    clients.push(c);
    await c.connected();
    assert.equal(tokens.at(-1), "t1");
    const reconnected = new Promise<void>((r) => c.onConnect(({ connects }) => connects === 2 && r()));
    for (const s of io.of(NAMESPACE.calls).sockets.values()) s.conn.close();
    await reconnected;
    assert.equal(tokens.at(-1), "t2");
  });

  it("sends a fixed token, and no auth at all without one", async () => {
    const withToken = createSwitchboardClient(url, { token: "fixed" });
    clients.push(withToken);
    await withToken.connected();
    assert.equal(tokens.at(-1), "fixed");
    const without = createSwitchboardClient(url);
    clients.push(without);
    await without.connected();
    assert.equal(tokens.at(-1), undefined);
  });

  it("waits the delay server:draining suggests before reconnecting", async () => {
    const c = createSwitchboardClient(url, { reconnectMinMs: 10, reconnectMaxMs: 20 });
    clients.push(c);
    await c.connected();
    const server = [...io.of(NAMESPACE.calls).sockets.values()].find((s) => s.id === c.socket.id)!;
    const notice: ServerDraining = { reason: "test", reconnectAfterMs: 700 };
    const closedAt = Date.now();
    server.emit(SERVER_EVENT.draining, notice);
    server.conn.close();
    await new Promise<void>((r) => c.onConnect(() => r()));
    const waited = Date.now() - closedAt;
    assert.ok(waited >= 650, `reconnected after ${waited} ms, suggested 700`);
  });

  it("draws reconnect delays with full jitter under an exponential cap", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(15_000, 500 * 2 ** attempt);
      const draws = Array.from({ length: 200 }, () => backoffDelay(attempt, 500, 15_000));
      assert.ok(draws.every((d) => d >= 0 && d < cap), `attempt ${attempt}: within [0, ${cap})`);
      assert.ok(new Set(draws).size > 50, "spread out, not in step");
    }
  });
});
