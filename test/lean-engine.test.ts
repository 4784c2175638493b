/**
 * The lean engine speaks Engine.IO v4 over WebSocket and plays Socket.IO's
 * client role exactly as the stock stack does, as seen by the real
 * socket.io-client: namespaces multiplexed on one connection, acks both
 * ways, binary attachments, broadcasts, heartbeats, timeouts, refusals and
 * closes from either side. Socket.IO runs in this process on its in-memory
 * adapter; the cross-process paths are covered by the gateway's own tests.
 */
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import { connect as tcpConnect, type AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { Server, type Socket } from "socket.io";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import WebSocket from "ws";
import { LeanEngine } from "../gateway/src/lean-engine.js";

const PING_INTERVAL_MS = 300;
const PING_TIMEOUT_MS = 400;
const MAX_PAYLOAD = 64 * 1024;
const CONNECT_TIMEOUT_MS = 1500;
const CLOSE_TIMEOUT_MS = 800;
const MAX_BUFFERED_BYTES = 1024 * 1024;

function once<T = unknown>(emitter: { once(event: string, fn: (...args: any[]) => void): unknown }, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lean engine", () => {
  let http: HttpServer;
  let io: Server;
  let engine: LeanEngine;
  let url = "";
  const clients: ClientSocket[] = [];

  function client(namespace = "/calls", opts: Record<string, unknown> = {}): ClientSocket {
    const c = ioClient(url + namespace, { transports: ["websocket"], reconnection: false, forceNew: true, ...opts });
    clients.push(c);
    return c;
  }

  /** A socket.io-client socket and the server's socket for it, once connected. */
  async function connectedPair(namespace = "/calls", opts: Record<string, unknown> = {}): Promise<{ c: ClientSocket; s: Socket }> {
    const serverSide = once<Socket>(io.of(namespace), "connection");
    const c = client(namespace, opts);
    await once(c, "connect");
    return { c, s: await serverSide };
  }

  /** A bare WebSocket speaking Engine.IO by hand, for what socket.io-client would never send. */
  function rawEngineClient(): WebSocket {
    return new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  }

  /** A TCP socket that has done the WebSocket upgrade by hand; resolves with the server's 101 response. */
  async function upgradedTcp(o: { allowHalfOpen?: boolean } = {}) {
    const raw = tcpConnect({ port: Number(new URL(url).port), host: "127.0.0.1", allowHalfOpen: o.allowHalfOpen ?? false });
    await once(raw, "connect");
    raw.write(
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const head = await once<Buffer>(raw, "data");
    return { raw, head };
  }

  before(async () => {
    http = createServer((req, res) => {
      if (engine.handles(req.url)) return engine.handleRequest(req, res);
      res.writeHead(404).end();
    });
    io = new Server({ serveClient: false, connectTimeout: CONNECT_TIMEOUT_MS });
    engine = new LeanEngine({ path: "/socket.io/", pingIntervalMs: PING_INTERVAL_MS, pingTimeoutMs: PING_TIMEOUT_MS, maxPayload: MAX_PAYLOAD, closeTimeoutMs: CLOSE_TIMEOUT_MS, maxBufferedBytes: MAX_BUFFERED_BYTES });
    engine.attach(io);
    http.on("upgrade", (req, socket, head) => {
      if (engine.handles(req.url)) engine.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
    io.of("/calls").removeAllListeners("connection");
    io.of("/dashboard").removeAllListeners("connection");
  });
  after(async () => {
    await io.close();
    http.close();
  });

  it("connects, exchanges events with acks both ways, and reports the handshake", async () => {
    const serverSide = once<Socket>(io.of("/calls"), "connection");
    const c = client("/calls", { auth: { hello: "world" }, extraHeaders: { origin: "https://app.example" } });
    await once(c, "connect");
    const s = await serverSide;
    assert.equal(s.handshake.address, "127.0.0.1");
    assert.equal(s.handshake.auth.hello, "world");
    assert.equal(s.handshake.headers.origin, "https://app.example");
    assert.equal(s.handshake.xdomain, true);
    assert.equal(s.handshake.secure, false);
    assert.equal(s.conn.transport.name, "websocket");
    assert.equal(engine.clientsCount, 1);
    s.on("echo", (payload: unknown, ack: (x: unknown) => void) => ack({ got: payload }));
    assert.deepEqual(await c.emitWithAck("echo", { n: 1, text: "héllo" }), { got: { n: 1, text: "héllo" } });
    c.on("ask", (q: number, ack: (x: number) => void) => ack(q * 2));
    assert.equal(await s.timeout(2000).emitWithAck("ask", 21), 42);
  });

  it("multiplexes two namespaces over one connection and keeps each one's sockets apart", async () => {
    const calls = once<Socket>(io.of("/calls"), "connection");
    const dash = once<Socket>(io.of("/dashboard"), "connection");
    const a = client("/calls");
    const b = ioClient(url + "/dashboard", { transports: ["websocket"], reconnection: false, forceNew: false });
    // Same Manager: the second namespace rides the first one's connection.
    const sameManager = ioClient(url + "/calls", { transports: ["websocket"], reconnection: false, forceNew: true });
    clients.push(sameManager);
    const onMgr = sameManager.io.socket("/dashboard");
    clients.push(b, onMgr);
    onMgr.connect();
    await Promise.all([once(a, "connect"), once(sameManager, "connect"), once(onMgr, "connect")]);
    await calls;
    await dash;
    const callsSide = [...io.of("/calls").sockets.values()].find((s) => s.id === sameManager.id)!;
    const dashSide = [...io.of("/dashboard").sockets.values()].find((s) => s.id === onMgr.id)!;
    assert.equal(callsSide.conn, dashSide.conn, "one engine connection carries both namespaces");
    const gotDash = once(onMgr, "only-dash");
    const notCalls = new Promise((resolve) => sameManager.once("only-dash", resolve));
    dashSide.emit("only-dash", 1);
    assert.equal(await gotDash, 1);
    assert.equal(await Promise.race([notCalls, sleep(200).then(() => "none")]), "none");
    // Leaving one namespace keeps the other open on the same connection.
    onMgr.disconnect();
    await once(dashSide, "disconnect");
    callsSide.emit("still", "here");
    assert.equal(await once(sameManager, "still"), "here");
  });

  it("carries binary attachments both ways", async () => {
    const { c, s } = await connectedPair();
    s.on("bin", (payload: { a: Buffer; b: Buffer }, ack: (x: unknown) => void) => ack({ sum: payload.a.length + payload.b.length, first: payload.b[0], back: Buffer.from([9, 8, 7]) }));
    const reply = (await c.emitWithAck("bin", { a: new Uint8Array(1000), b: Uint8Array.from([5, 6]) })) as { sum: number; first: number; back: ArrayBuffer };
    assert.equal(reply.sum, 1002);
    assert.equal(reply.first, 5);
    assert.deepEqual([...new Uint8Array(reply.back)], [9, 8, 7]);
  });

  it("broadcasts to a room through the adapter's pre-encoded frames", async () => {
    io.of("/calls").on("connection", (s) => s.join("room-1"));
    const members = [client(), client(), client()];
    const outsider = client();
    await Promise.all([...members, outsider].map((c) => once(c, "connect")));
    await sleep(50);
    const got = members.map((c) => once(c, "news"));
    const leaked = new Promise((resolve) => outsider.once("news", resolve));
    io.of("/calls").except(outsider.id!).to("room-1").emit("news", { big: "x".repeat(70_000) });
    for (const g of await Promise.all(got)) assert.equal((g as { big: string }).big.length, 70_000);
    io.of("/calls").to("nobody").emit("news", 1);
    assert.equal(await Promise.race([leaked, sleep(200).then(() => "none")]), "none");
  });

  it("pings, and closes a client that stops answering with `ping timeout`", async () => {
    const { c, s } = await connectedPair();
    // A live client answers pings: still connected after several intervals.
    await sleep(PING_INTERVAL_MS * 4);
    assert.equal(s.connected, true);
    // Stop answering: the client's engine drops its pong.
    const engineSocket = c.io.engine as unknown as { sendPacket: (...a: unknown[]) => void; _sendPacket: (...a: unknown[]) => void };
    engineSocket.sendPacket = engineSocket._sendPacket = () => {};
    const reason = await once<string>(s, "disconnect", PING_INTERVAL_MS * 4 + PING_TIMEOUT_MS * 4 + 3000);
    assert.equal(reason, "ping timeout");
    assert.equal(engine.clientsCount, 0);
  });

  it("closes a connection that joins no namespace within the connect timeout", async () => {
    const ws = rawEngineClient();
    const opened = once<Buffer>(ws, "message");
    await once(ws, "open");
    assert.match((await opened).toString(), /^0\{"sid":"[^"]+","upgrades":\[\],"pingInterval":300,"pingTimeout":400,"maxPayload":65536\}$/);
    ws.on("message", (m: Buffer) => {
      if (m.toString() === "2") ws.send("3");
    });
    const closedAt = await once(ws, "close", CONNECT_TIMEOUT_MS + PING_INTERVAL_MS * 3 + 3000).then(() => Date.now());
    assert.ok(closedAt, "closed");
    assert.equal(engine.clientsCount, 0);
  });

  it("server-side disconnect(true) closes the transport; disconnect() leaves it to the other namespaces", async () => {
    const { c, s } = await connectedPair();
    const clientReason = once<string>(c, "disconnect");
    s.disconnect(true);
    assert.equal(await clientReason, "io server disconnect");
    await sleep(100);
    assert.equal(engine.clientsCount, 0);
  });

  it("a client closing its side is seen as `client namespace disconnect` / `transport close`", async () => {
    let serverSide = once<Socket>(io.of("/calls"), "connection");
    const c = client();
    await once(c, "connect");
    let s = await serverSide;
    let reason = once<string>(s, "disconnect");
    c.disconnect();
    assert.equal(await reason, "client namespace disconnect");
    serverSide = once<Socket>(io.of("/calls"), "connection");
    const d = client();
    await once(d, "connect");
    s = await serverSide;
    reason = once<string>(s, "disconnect");
    (d.io.engine as unknown as { transport: { ws: WebSocket } }).transport.ws.terminate();
    assert.equal(await reason, "transport close");
  });

  it("socket.conn.close() ends the connection; the client sees `transport close`", async () => {
    const { c, s } = await connectedPair();
    const clientReason = once<string>(c, "disconnect");
    const serverReason = once<string>(s, "disconnect");
    s.emit("last", "words");
    const last = once(c, "last");
    s.conn.close();
    assert.equal(await last, "words", "queued packets go out before the close");
    assert.equal(await clientReason, "transport close");
    assert.equal(await serverReason, "forced close");
  });

  it("closes a connection that sends more than maxPayload (1009) and keeps serving others", async () => {
    const { c, s } = await connectedPair();
    const reason = once<string>(s, "disconnect");
    c.emit("big", "x".repeat(MAX_PAYLOAD + 10));
    // As the stock engine says it: the transport failed, the server did not choose to close.
    assert.equal(await reason, "transport error");
    const other = client();
    await once(other, "connect");
  });

  it("closes a connection that sends a malformed Socket.IO packet, and survives it", async () => {
    const ws = rawEngineClient();
    await once(ws, "open");
    ws.send("40/calls,");
    await sleep(100);
    const closed = once(ws, "close");
    ws.send('42/calls,["unterminated');
    await closed;
    const c = client();
    await once(c, "connect");
  });

  it("closes a connection that sends an unknown Engine.IO packet type", async () => {
    const ws = rawEngineClient();
    await once(ws, "open");
    const closed = once(ws, "close");
    ws.send("9nonsense");
    await closed;
  });

  it("answers WebSocket pings and echoes the peer's close code", async () => {
    const ws = rawEngineClient();
    await once(ws, "open");
    const pong = once<Buffer>(ws, "pong");
    ws.ping(Buffer.from("are you there"));
    assert.equal((await pong).toString(), "are you there");
    const closed = new Promise<number>((resolve) => ws.once("close", (code: number) => resolve(code)));
    ws.close(4001, "bye");
    assert.equal(await closed, 4001);
    await sleep(50);
    assert.equal(engine.clientsCount, 0);
  });

  it("closes a connection that sends binary data with no attachment pending", async () => {
    const ws = rawEngineClient();
    await once(ws, "open");
    ws.send("40/calls,");
    await sleep(100);
    const closed = once(ws, "close");
    ws.send(Buffer.from([1, 2, 3]));
    await closed;
  });

  it("keeps a client whose pong comes late but within pingTimeout", async () => {
    const ws = rawEngineClient();
    let pings = 0;
    ws.on("message", (m: Buffer) => {
      if (m.toString() !== "2") return;
      pings++;
      setTimeout(() => ws.readyState === WebSocket.OPEN && ws.send("3"), PING_TIMEOUT_MS - 70);
    });
    await once(ws, "open");
    ws.send("40/calls,");
    const closed = new Promise((resolve) => ws.once("close", () => resolve("closed")));
    assert.equal(await Promise.race([closed, sleep(PING_INTERVAL_MS * 8).then(() => "open")]), "open");
    assert.ok(pings >= 3, `${pings} pings`);
    ws.close();
  });

  it("cuts a closed connection at a fixed deadline even if the peer keeps sending", async () => {
    const serverSide = once<Socket>(io.of("/calls"), "connection");
    // Half-open allowed: the peer does not end its side when ours ends.
    const { raw } = await upgradedTcp({ allowHalfOpen: true });
    // A masked "40/calls," text frame.
    const payload = Buffer.from("40/calls,");
    const mask = Buffer.from([1, 2, 3, 4]);
    raw.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]))]));
    const s = await serverSide;
    const ended = new Promise((resolve) => raw.once("close", resolve));
    raw.on("data", () => {});
    raw.on("error", () => {});
    s.conn.close();
    // Never answer the close; keep trickling bytes of a frame that never completes.
    const trickle = setInterval(() => raw.writable && raw.write(Buffer.from([0x81])), CLOSE_TIMEOUT_MS / 4);
    // The old idle-timeout rule was 10 s, reset by every byte: it would still be open.
    const outcome = await Promise.race([ended.then(() => "cut"), sleep(CLOSE_TIMEOUT_MS * 4).then(() => "still open")]);
    clearInterval(trickle);
    raw.destroy();
    assert.equal(outcome, "cut");
  });

  it("cuts a client that stops reading once its unsent bytes pass maxBufferedBytes, and keeps serving the others", async () => {
    const serverSide = once<Socket>(io.of("/calls"), "connection");
    const { raw } = await upgradedTcp();
    const payload = Buffer.from("40/calls,");
    const mask = Buffer.from([1, 2, 3, 4]);
    raw.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]))]));
    const slow = await serverSide;
    raw.on("error", () => {});
    // The peer stops reading: the kernel buffers fill, then Node's.
    raw.pause();
    const healthy = await connectedPair();
    let healthyGot = 0;
    healthy.c.on("tick", () => healthyGot++);
    const reason = new Promise<string>((resolve) => slow.once("disconnect", resolve));
    const overflows: unknown[] = [];
    engine.on("slow_client", (conn: unknown) => overflows.push(conn));
    // 1 KB events, far past the limit if nothing stops them (64 MB).
    let sent = 0;
    let peak = 0;
    const tcp = (slow.conn as unknown as { tcp: { writableLength: number } }).tcp;
    while (slow.connected && sent < 64 * 1024) {
      slow.emit("tick", "x".repeat(1000));
      healthy.s.emit("tick", "y");
      peak = Math.max(peak, tcp.writableLength);
      sent++;
      if (sent % 256 === 0) await sleep(1);
    }
    assert.equal(await reason, "transport error");
    assert.equal(overflows.length, 1);
    assert.equal(overflows[0], slow.conn);
    // Cut at the first write past the limit: at most one event over it.
    assert.ok(peak <= MAX_BUFFERED_BYTES + 1100, `peak ${peak} bytes buffered`);
    assert.ok(sent < 64 * 1024, "the slow client was never cut");
    healthy.s.on("after", (ack: (x: string) => void) => ack("alive"));
    assert.equal(await healthy.c.timeout(2000).emitWithAck("after"), "alive");
    assert.ok(healthyGot > 0);
    engine.removeAllListeners("slow_client");
    raw.destroy();
  });

  it("sends ArrayBuffers and typed arrays as their bytes, and stays usable", async () => {
    const { c, s } = await connectedPair();
    const got = new Promise<unknown[]>((resolve) => c.on("bin", (...args: unknown[]) => resolve(args)));
    s.emit("bin", Uint8Array.from([1, 2, 3]).buffer, new Float32Array([1.5, 2.5]), new DataView(Uint8Array.from([7, 8]).buffer));
    // socket.io-client hands binary over as a Buffer in Node (an ArrayBuffer in browsers).
    const bytes = (x: unknown) => [...(x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array((x as Buffer).buffer, (x as Buffer).byteOffset, (x as Buffer).byteLength))];
    const [ab, f32, dv] = await got;
    assert.deepEqual(bytes(ab), [1, 2, 3]);
    assert.deepEqual(bytes(f32), [...new Uint8Array(new Float32Array([1.5, 2.5]).buffer)]);
    assert.deepEqual(bytes(dv), [7, 8]);
    s.on("after", (ack: (x: string) => void) => ack("alive"));
    assert.equal(await c.timeout(2000).emitWithAck("after"), "alive");
  });

  it("reports the client's query in the handshake, and Engine.IO's own when it added none", async () => {
    let serverSide = once<Socket>(io.of("/calls"), "connection");
    const c = client("/calls", { query: { room: "r1", lang: "fr" } });
    await once(c, "connect");
    assert.deepEqual({ ...(await serverSide).handshake.query }, { room: "r1", lang: "fr", EIO: "4", transport: "websocket" });
    serverSide = once<Socket>(io.of("/calls"), "connection");
    const d = client();
    await once(d, "connect");
    assert.deepEqual({ ...(await serverSide).handshake.query }, { EIO: "4", transport: "websocket" });
  });

  it("closes a client that sends a ping (server to client only in Engine.IO v4) as a transport error", async () => {
    const serverSide = once<Socket>(io.of("/calls"), "connection");
    const ws = rawEngineClient();
    await once(ws, "open");
    ws.send("40/calls,");
    const s = await serverSide;
    const reason = once<string>(s, "disconnect");
    ws.send("2");
    assert.equal(await reason, "transport error");
  });

  it("refuses new connections once closed (503)", async () => {
    const other = createServer();
    const closedEngine = new LeanEngine({ path: "/socket.io/", pingIntervalMs: 1000, pingTimeoutMs: 1000, maxPayload: 1024 });
    closedEngine.attach(new Server({ serveClient: false }));
    other.on("upgrade", (req, socket, head) => closedEngine.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    closedEngine.close();
    const ws = new WebSocket(`ws://127.0.0.1:${(other.address() as AddressInfo).port}/socket.io/?EIO=4&transport=websocket`);
    const status = await new Promise<number>((resolve, reject) => {
      ws.on("unexpected-response", (_req, r) => resolve(r.statusCode ?? 0));
      ws.on("open", () => reject(new Error("accepted after close")));
      ws.on("error", () => {});
    });
    assert.equal(status, 503);
    assert.equal(closedEngine.clientsCount, 0);
    other.close();
  });

  it("refuses handshakes it cannot serve with Engine.IO's error codes", async () => {
    const base = url.replace("http", "ws") + "/socket.io/";
    for (const [query, code] of [
      ["?EIO=3&transport=websocket", 5],
      ["?EIO=4&transport=polling", 0],
      ["?EIO=4&transport=websocket&sid=abc", 1],
    ] as const) {
      const ws = new WebSocket(base + query, { perMessageDeflate: false });
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        ws.on("unexpected-response", (_req, r) => {
          let body = "";
          r.on("data", (d: Buffer) => (body += d));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
        });
        ws.on("open", () => reject(new Error(`${query} was accepted`)));
        ws.on("error", () => {});
      });
      assert.equal(res.status, 400, query);
      assert.equal(JSON.parse(res.body).code, code, query);
    }
    const polling = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(polling.status, 400);
    assert.equal(((await polling.json()) as { code: number }).code, 0);
  });

  it("never negotiates compression, even when the client offers it", async () => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: true });
    await once(ws, "open");
    assert.equal(ws.extensions, "");
    ws.close();
  });

  it("survives garbage after the upgrade and a client that vanishes mid-frame", async () => {
    const { raw, head } = await upgradedTcp();
    assert.match(head.toString(), /^HTTP\/1\.1 101 /);
    // Half a masked frame header claiming 1000 bytes, then gone.
    raw.write(Buffer.from([0x81, 0xfe, 0x03, 0xe8, 1, 2]));
    raw.destroy();
    await sleep(100);
    const c = client();
    await once(c, "connect");
    assert.equal(engine.clientsCount, 1);
  });

  it("drops volatile packets while the transport is busy and reports clients for the drain", async () => {
    const { c, s } = await connectedPair();
    const ids = Object.keys(engine.clients);
    assert.equal(ids.length, 1);
    assert.equal(engine.clients[ids[0]], s.conn);
    let received = 0;
    c.on("v", () => received++);
    // A burst far above what the socket buffer takes at once: some are dropped, nothing breaks.
    for (let i = 0; i < 2000; i++) s.volatile.emit("v", "y".repeat(2000));
    await sleep(500);
    assert.ok(received > 0 && received <= 2000, `received ${received}`);
    s.on("after", (ack: (x: string) => void) => ack("alive"));
    assert.equal(await c.timeout(2000).emitWithAck("after"), "alive");
  });

  it("emits `packet` on the connection for the client's pongs and messages, as engine.io does", async () => {
    const { c, s } = await connectedPair();
    const seen: Array<{ type: string; data?: unknown }> = [];
    // engine.io's documented liveness hook: socket.conn.on("packet", ({ type }) => type === "pong" && ...)
    s.conn.on("packet", (packet: { type: string; data?: unknown }) => seen.push(packet));
    const got = once(s, "hello");
    c.emit("hello", 1);
    await got;
    await sleep(PING_INTERVAL_MS * 3);
    assert.deepEqual(seen.find((p) => p.type === "message"), { type: "message", data: '2/calls,["hello",1]' });
    assert.ok(seen.some((p) => p.type === "pong"), `no pong among ${JSON.stringify(seen)}`);
  });

  it("gives each connection its own mutable handshake.query and handshake.headers", async () => {
    // Strict-mode code (every ES module) throws on writing a frozen object; a
    // throw in a middleware is an unhandled rejection in Socket.IO, so this must not throw.
    const seen: Array<Record<string, unknown>> = [];
    io.of("/mutable").use((socket, next) => {
      try {
        (socket.handshake.query as Record<string, unknown>).seen = (socket.handshake.query as Record<string, unknown>).seen ?? "first";
        (socket.handshake.headers as Record<string, unknown>)["x-normalised"] = "yes";
        seen.push({ query: { ...socket.handshake.query }, xn: socket.handshake.headers["x-normalised"] });
        next();
      } catch (err) {
        next(err as Error);
      }
    });
    const connected = (c: ClientSocket) =>
      Promise.race([once(c, "connect").then(() => "connected"), once<Error>(c, "connect_error").then((err) => `refused: ${err.message}`)]);
    assert.equal(await connected(client("/mutable")), "connected");
    assert.equal(await connected(client("/mutable")), "connected");
    assert.equal(seen.length, 2);
    // What one connection wrote is not seen by the next one.
    assert.deepEqual(seen[1].query, { EIO: "4", transport: "websocket", seen: "first" });
    assert.equal(seen[1].xn, "yes");
  });

  it("reports the upgrade URL with its query in handshake.url, as the stock engine does", async () => {
    let serverSide = once<Socket>(io.of("/calls"), "connection");
    const c = client("/calls", { query: { room: "r1" } });
    await once(c, "connect");
    let url = new URL((await serverSide).handshake.url, "http://x");
    assert.equal(url.pathname, "/socket.io/");
    assert.equal(url.searchParams.get("room"), "r1");
    assert.equal(url.searchParams.get("EIO"), "4");
    serverSide = once<Socket>(io.of("/calls"), "connection");
    const d = client();
    await once(d, "connect");
    url = new URL((await serverSide).handshake.url, "http://x");
    assert.equal(url.searchParams.get("transport"), "websocket");
  });

  it("refuses a connection whose asynchronous allowRequest answers after the engine closed", async () => {
    const other = createServer();
    let answer: (() => void) | undefined;
    const asyncEngine = new LeanEngine({
      path: "/socket.io/",
      pingIntervalMs: 1000,
      pingTimeoutMs: 1000,
      maxPayload: 1024,
      allowRequest: (_req, fn) => void (answer = () => fn(null, true)),
    });
    asyncEngine.attach(new Server({ serveClient: false }));
    other.on("upgrade", (req, socket, head) => asyncEngine.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    const ws = new WebSocket(`ws://127.0.0.1:${(other.address() as AddressInfo).port}/socket.io/?EIO=4&transport=websocket`);
    ws.on("error", () => {});
    const outcome = new Promise<string>((resolve) => {
      ws.on("open", () => resolve("accepted"));
      ws.on("unexpected-response", (_req, r) => resolve(`refused ${r.statusCode}`));
    });
    while (!answer) await sleep(10);
    // The engine closes (io.close()) while allowRequest is still deciding.
    asyncEngine.close();
    answer();
    const result = await outcome;
    // Accepted after close, the connection would sit on a stopped wheel: never pinged, never timed out.
    assert.equal(asyncEngine.clientsCount, 0);
    assert.equal(result, "refused 503");
    ws.terminate();
    other.close();
  });
});
