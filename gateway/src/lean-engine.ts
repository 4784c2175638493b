/**
 * A lean Engine.IO v4 server for WebSocket-only deployments, which Socket.IO
 * binds to in place of the stock `engine.io` (`io.bind(engine)`).
 *
 * Why: heap snapshots of an idle connection on Socket.IO 4.8 / Engine.IO 6.6
 * show ~11 KB per connection, of which a bare `ws` connection is ~2.5 KB and
 * Socket.IO's own socket ~2.5 KB. The rest is Engine.IO's per-connection
 * machinery, most of it for long-polling and transport upgrades that a
 * WebSocket-only fleet never uses: a Socket and a Transport (two event
 * emitters), ten bound functions and four closures per connection, two
 * timers per connection for the heartbeat, and the HTTP upgrade request kept
 * alive for the connection's whole life.
 *
 * Here a connection is one small object; its `ws` listeners and methods are
 * shared functions; heartbeats run on one timer wheel for the whole process
 * (a bucket of connections per tick, which also spreads the pings evenly);
 * and nothing of the upgrade request is kept but the client's address and
 * Origin. The wire protocol is Engine.IO v4 over WebSocket, exactly what
 * `socket.io-client` speaks with `transports: ["websocket"]`.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";

export interface LeanEngineOptions {
  /** Engine.IO path, `/socket.io/` for Socket.IO. */
  path: string;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Largest WebSocket message accepted; a larger one closes that connection (ws answers 1009). */
  maxPayload: number;
  /** Same contract as Engine.IO's `allowRequest`: call `fn(null, true)` to accept. */
  allowRequest?: (req: IncomingMessage, fn: (err: string | null | undefined, success: boolean) => void) => void;
}

/** Engine.IO's error codes for refused handshakes, as clients and logs know them. */
export const ENGINE_ERROR = {
  unknownTransport: { code: 0, message: "Transport unknown" },
  unknownSid: { code: 1, message: "Session ID unknown" },
  badRequest: { code: 3, message: "Bad request" },
  forbidden: { code: 4, message: "Forbidden" },
  unsupportedProtocolVersion: { code: 5, message: "Unsupported protocol version" },
} as const;

type Listener = (...args: any[]) => void;
const ONCE_ORIGINALS = new WeakMap<Listener, Listener>();
/** Shared by every connection without an Origin header (non-browser clients). */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_QUERY: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * The few EventEmitter methods Socket.IO and user code call on a connection,
 * with listeners kept in one lazily created object instead of Node's
 * dictionary-mode `_events` (≈250 bytes per emitter).
 */
class SmallEmitter {
  private handlers: Record<string, Listener[]> | undefined = undefined;

  on(event: string, fn: Listener): this {
    const h = (this.handlers ??= {});
    const list = h[event];
    // Copy on write keeps each list at its exact size: a pushed-to empty
    // array reserves room for 17 entries, per connection.
    h[event] = list ? [...list, fn] : [fn];
    return this;
  }
  addListener(event: string, fn: Listener): this {
    return this.on(event, fn);
  }
  once(event: string, fn: Listener): this {
    const wrapped: Listener = (...args) => {
      this.off(event, wrapped);
      fn.apply(this, args);
    };
    // Not a property on the wrapper: a function given a property goes to
    // dictionary mode (~250 bytes), per connection.
    ONCE_ORIGINALS.set(wrapped, fn);
    return this.on(event, wrapped);
  }
  off(event: string, fn: Listener): this {
    const list = this.handlers?.[event];
    if (!list) return this;
    const i = list.findIndex((l) => l === fn || ONCE_ORIGINALS.get(l) === fn);
    if (i >= 0) this.handlers![event] = list.filter((_, j) => j !== i);
    return this;
  }
  removeListener(event: string, fn: Listener): this {
    return this.off(event, fn);
  }
  removeAllListeners(event?: string): this {
    if (event === undefined) this.handlers = undefined;
    else if (this.handlers) delete this.handlers[event];
    return this;
  }
  listeners(event: string): Listener[] {
    return [...(this.handlers?.[event] ?? [])];
  }
  emit(event: string, ...args: unknown[]): boolean {
    const list = this.handlers?.[event];
    // Unlike Node's emitter, an unheard "error" does not throw: the connection closes anyway.
    if (!list || list.length === 0) return false;
    for (const fn of list) fn.apply(this, args);
    return true;
  }
}

const ENCRYPTED = Object.freeze({ encrypted: true });
const PLAIN = Object.freeze({ encrypted: false });
const WRITABLE = Object.freeze({ name: "websocket", writable: true });
const BUSY = Object.freeze({ name: "websocket", writable: false });
const CONNECTION = Symbol("leanConnection");

export type CloseReason = "transport close" | "transport error" | "ping timeout" | "forced close" | "parse error";

/** One client connection: what Socket.IO's Client expects of an Engine.IO socket. */
export class LeanConnection extends SmallEmitter {
  readonly protocol = 4;
  readyState: "open" | "closing" | "closed" = "open";
  /** 0 when the peer has answered; otherwise when the unanswered ping was sent. */
  pingSentAt = 0;
  /** The heartbeat bucket this connection sits in. */
  bucket = 0;

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    /** What Socket.IO reads when it builds `socket.handshake`; only the Origin is kept. */
    readonly request: { headers: Record<string, string>; _query: Record<string, string>; connection: { encrypted: boolean } },
    private ws: WebSocket,
    private engine: LeanEngine,
  ) {
    super();
  }

  /** Socket.IO checks `transport.writable` for volatile packets. */
  get transport() {
    return this.ws.bufferedAmount === 0 ? WRITABLE : BUSY;
  }

  /** Sends one Engine.IO message packet: text gets the "4" prefix, binary goes as is. */
  write(data: string | Buffer, opts?: { wsPreEncodedFrame?: Buffer[] }, cb?: (err?: Error) => void): this {
    if (this.readyState !== "open") return this;
    const sender = (this.ws as unknown as { _sender?: { sendFrame(f: Buffer[], cb?: (err?: Error) => void): void } })._sender;
    if (opts?.wsPreEncodedFrame && sender) {
      // Broadcasts arrive with the frame already built once for all receivers.
      sender.sendFrame(opts.wsPreEncodedFrame, cb);
    } else if (typeof data === "string") {
      this.ws.send("4" + data, cb);
    } else {
      this.ws.send(data, cb);
    }
    return this;
  }
  send(data: string | Buffer, opts?: { wsPreEncodedFrame?: Buffer[] }, cb?: (err?: Error) => void): this {
    return this.write(data, opts, cb);
  }

  /** Closes the connection; queued frames are sent first (the close frame follows them). */
  close(): void {
    if (this.readyState !== "open") return;
    this.ws.close();
    this.finish("forced close");
  }

  /** @internal */
  ping(now: number): void {
    this.pingSentAt = now;
    this.ws.send("2");
  }

  /** @internal */
  onFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.readyState !== "open") return;
    // Any packet proves the peer alive, as in Engine.IO.
    this.pingSentAt = 0;
    if (isBinary) {
      this.emit("data", Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
      return;
    }
    const text = data.toString();
    switch (text.charCodeAt(0)) {
      case 0x34: // "4" message
        this.emit("data", text.slice(1));
        return;
      case 0x33: // "3" pong
        this.emit("heartbeat");
        return;
      case 0x31: // "1" close
        this.ws.close();
        this.finish("transport close");
        return;
      case 0x36: // "6" noop
        return;
      default: // "2" ping goes server to client in v4; anything else is garbage
        this.ws.terminate();
        this.finish("parse error");
    }
  }

  /** @internal */
  finish(reason: CloseReason, description?: unknown): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.engine.forget(this);
    this.emit("close", reason, description);
  }

  /** @internal */
  terminate(reason: CloseReason): void {
    if (this.readyState === "closed") return;
    this.ws.terminate();
    this.finish(reason);
  }
}

// Shared `ws` listeners: `this` is the WebSocket, the connection hangs off it.
function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as unknown as { [CONNECTION]: LeanConnection })[CONNECTION].onFrame(data, isBinary);
}
function onWsClose(this: WebSocket): void {
  (this as unknown as { [CONNECTION]: LeanConnection })[CONNECTION].finish("transport close");
}
function onWsError(this: WebSocket, err: Error): void {
  const conn = (this as unknown as { [CONNECTION]: LeanConnection })[CONNECTION];
  conn.emit("error", err);
  conn.terminate("transport error");
}

const TICK_MS = 1000;

export class LeanEngine extends SmallEmitter {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, LeanConnection>();
  /** Heartbeat wheel: bucket i is pinged at every tick t with t % buckets === i. */
  private readonly buckets: Array<Set<LeanConnection>>;
  private readonly wheel: NodeJS.Timeout;
  private tick = 0;
  private nextBucket = 0;
  private readonly openPacket: (id: string) => string;

  constructor(private readonly opts: LeanEngineOptions) {
    super();
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: opts.maxPayload,
      // Engine.IO pings at its own level; answering WebSocket-level pings
      // costs a closure per connection in ws and no client sends them.
      autoPong: false,
    });
    const count = Math.max(1, Math.round(opts.pingIntervalMs / TICK_MS));
    this.buckets = Array.from({ length: count }, () => new Set());
    this.wheel = setInterval(() => this.turnWheel(), TICK_MS);
    this.wheel.unref();
    const settings = `"upgrades":[],"pingInterval":${opts.pingIntervalMs},"pingTimeout":${opts.pingTimeoutMs},"maxPayload":${opts.maxPayload}}`;
    this.openPacket = (id) => `0{"sid":"${id}",${settings}`;
  }

  get clientsCount(): number {
    return this.connections.size;
  }

  /** Engine.IO's `clients` (id -> connection), built on demand: code written for the stock engine (the drain) reads it. */
  get clients(): Record<string, LeanConnection> {
    return Object.fromEntries(this.connections);
  }

  /** Whether `url` is an Engine.IO request for this engine. */
  handles(url: string | undefined): boolean {
    return (url ?? "").startsWith(this.opts.path);
  }

  /** Answers plain HTTP requests on the engine's path: only WebSocket upgrades are served. */
  handleRequest(req: IncomingMessage, res: import("node:http").ServerResponse): void {
    const error = ENGINE_ERROR.unknownTransport;
    this.emit("connection_error", { req, code: error.code, message: error.message, context: { transport: "polling" } });
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify(error));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    const refuse = (error: { code: number; message: string }, context: Record<string, unknown> = {}) => {
      this.emit("connection_error", { req, code: error.code, message: error.message, context });
      abortUpgrade(socket, error);
    };
    if (query.get("EIO") !== "4") return refuse(ENGINE_ERROR.unsupportedProtocolVersion, { protocol: query.get("EIO") });
    if (query.get("transport") !== "websocket") return refuse(ENGINE_ERROR.unknownTransport, { transport: query.get("transport") });
    // WebSocket only: there is never a polling session to upgrade.
    if (query.has("sid")) return refuse(ENGINE_ERROR.unknownSid, { sid: query.get("sid") });
    const proceed = () =>
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, req));
    if (!this.opts.allowRequest) return proceed();
    this.opts.allowRequest(req, (err, ok) => {
      if (!ok) return refuse(ENGINE_ERROR.forbidden, { message: err ?? undefined });
      proceed();
    });
  }

  private open(ws: WebSocket, req: IncomingMessage): void {
    const id = randomBytes(15).toString("base64url");
    const origin = req.headers.origin;
    const conn = new LeanConnection(
      id,
      req.socket.remoteAddress ?? "",
      {
        headers: origin ? { origin } : NO_HEADERS,
        // Socket.IO copies the query into each handshake; a WebSocket-only
        // client's query (EIO, transport) says nothing the gateway uses.
        _query: NO_QUERY,
        connection: (req.socket as { encrypted?: boolean }).encrypted ? ENCRYPTED : PLAIN,
      },
      ws,
      this,
    );
    (ws as unknown as { [CONNECTION]: LeanConnection })[CONNECTION] = conn;
    ws.on("message", onWsMessage);
    ws.once("close", onWsClose);
    ws.on("error", onWsError);
    this.connections.set(id, conn);
    // Round-robin over the buckets spreads pings evenly even when thousands
    // of clients connect in the same second.
    conn.bucket = this.nextBucket++ % this.buckets.length;
    this.buckets[conn.bucket].add(conn);
    ws.send(this.openPacket(id));
    this.emit("connection", conn);
  }

  /** @internal */
  forget(conn: LeanConnection): void {
    this.connections.delete(conn.id);
    this.buckets[conn.bucket]?.delete(conn);
  }

  private turnWheel(): void {
    const now = Date.now();
    const t = this.tick++;
    const count = this.buckets.length;
    // Connections pinged `pingTimeout` ago that have not answered.
    const deadlineTicks = Math.ceil(this.opts.pingTimeoutMs / TICK_MS);
    const overdue = this.buckets[(((t - deadlineTicks) % count) + count) % count];
    for (const conn of overdue) {
      if (conn.pingSentAt !== 0 && now - conn.pingSentAt >= this.opts.pingTimeoutMs - TICK_MS / 2) conn.terminate("ping timeout");
    }
    for (const conn of this.buckets[t % count]) {
      if (conn.pingSentAt !== 0 && now - conn.pingSentAt >= this.opts.pingTimeoutMs) conn.terminate("ping timeout");
      else if (conn.pingSentAt === 0) conn.ping(now);
    }
  }

  /** Closes every connection (Socket.IO's `io.close()` calls this). */
  close(): this {
    clearInterval(this.wheel);
    for (const conn of [...this.connections.values()]) conn.close();
    this.wss.close();
    return this;
  }
}

function abortUpgrade(socket: Duplex, error: { code: number; message: string }): void {
  socket.on("error", () => {});
  if (socket.writable) {
    const body = JSON.stringify(error);
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
