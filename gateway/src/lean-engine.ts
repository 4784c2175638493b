/**
 * A lean Engine.IO v4 server for WebSocket-only deployments, which Socket.IO
 * runs on in place of the stock `engine.io` + `ws` (`engine.attach(io)`).
 *
 * Why: heap snapshots of an idle connection on Socket.IO 4.8 / Engine.IO 6.6
 * show ~11 KB per connection, most of it the machinery between the TCP
 * socket and Socket.IO's namespace socket, much of that for long-polling,
 * transport upgrades and WebSocket extensions that a WebSocket-only fleet
 * never uses (docs/performance.md has the breakdown). Here a connection is one
 * `LeanConnection` (lean-connection.ts) on its TCP socket; heartbeats and
 * the connect timeout run on one timer wheel for the whole process (a bucket
 * of connections per tick, which also spreads the pings evenly); nothing of
 * the upgrade request is kept but the client's address and Origin. The wire
 * protocol is Engine.IO v4 over RFC 6455 WebSocket without extensions,
 * exactly what `socket.io-client` speaks with `transports: ["websocket"]`.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Server } from "socket.io";
import { CONNECTION, LeanConnection, onTcpClose, onTcpData, onTcpEnd, onTcpError, type PacketDecoder } from "./lean-connection.js";
import { SmallEmitter } from "./small-emitter.js";
import { acceptResponse, checkUpgrade, refusalResponse } from "./websocket-upgrade.js";
import { readFrames, textFrame } from "./websocket-frames.js";

export interface LeanEngineOptions {
  /** Engine.IO path, `/socket.io/` for Socket.IO. */
  path: string;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Largest WebSocket message accepted; a larger one closes that connection with 1009. */
  maxPayload: number;
  /**
   * Most bytes written to a connection and not yet taken by its peer (default
   * 0: no limit). Past it the connection is cut with "transport error" and the
   * engine emits `slow_client`: a client that stops reading while its rooms
   * keep talking would otherwise grow the process's memory without bound
   * (the stock engine.io + ws have no such limit).
   */
  maxBufferedBytes?: number;
  /** How long a closed connection waits for the peer to finish the close before the socket is cut (default 10 s). */
  closeTimeoutMs?: number;
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

/** The longest the wheel waits between turns; shorter when pings are more frequent. */
const MAX_TICK_MS = 1000;

interface SocketIoInternals {
  encoder: { encode(packet: unknown): Array<string | Buffer> };
  _parser: { Decoder: new () => PacketDecoder };
  _connectTimeout: number;
  engine: unknown;
}

export class LeanEngine extends SmallEmitter {
  /** @internal Set by `attach`. */
  io: Server | undefined;
  /** @internal Socket.IO's encoder, shared by every connection. */
  encoder: SocketIoInternals["encoder"] | undefined;
  /** @internal Stateless decoding of a text packet, when the parser offers it (socket.io-parser does). */
  decodeString: ((text: string) => any) | undefined;
  /**
   * Heartbeat wheel: bucket i is visited at every tick t with
   * t % buckets === i, so each connection is pinged at most every
   * pingInterval (the bucket count rounds down) and its ping is checked
   * exactly `pingTimeoutTicks` after it was sent.
   */
  private readonly buckets: Array<Set<LeanConnection>>;
  private readonly wheel: NodeJS.Timeout;
  private readonly tickMs: number;
  private readonly pingTimeoutTicks: number;
  /** Ticks so far; a ping sent at tick t is recorded as t >= 1. */
  private tick = 0;
  private nextBucket = 0;
  private count = 0;
  /** Connections that have not opened a namespace yet, with the tick by which they must (Socket.IO's `connectTimeout`). */
  private readonly unopened = new Map<LeanConnection, number>();
  private closed = false;
  private readonly openPacket: (id: string) => string;
  /** @internal `handshake.url` of a client that added nothing to Engine.IO's own parameters: one string for all. */
  readonly defaultUrl: string;

  constructor(private readonly opts: LeanEngineOptions) {
    super();
    this.tickMs = Math.min(MAX_TICK_MS, opts.pingIntervalMs);
    // An interval never fires early, so `ceil` ticks are at least pingTimeout.
    this.pingTimeoutTicks = Math.ceil(opts.pingTimeoutMs / this.tickMs);
    const count = Math.max(1, Math.floor(opts.pingIntervalMs / this.tickMs));
    this.buckets = Array.from({ length: count }, () => new Set());
    this.wheel = setInterval(() => this.turnWheel(), this.tickMs);
    this.wheel.unref();
    const settings = `"upgrades":[],"pingInterval":${opts.pingIntervalMs},"pingTimeout":${opts.pingTimeoutMs},"maxPayload":${opts.maxPayload}}`;
    this.openPacket = (id) => `0{"sid":"${id}",${settings}`;
    this.defaultUrl = `${opts.path}?EIO=4&transport=websocket`;
  }

  /** Makes this engine Socket.IO's: its connections become the server's clients. */
  attach(io: Server): void {
    const internals = io as unknown as SocketIoInternals;
    this.io = io;
    this.encoder = internals.encoder;
    const shared = new internals._parser.Decoder() as PacketDecoder & { decodeString?: (text: string) => unknown };
    this.decodeString = typeof shared.decodeString === "function" ? shared.decodeString.bind(shared) : undefined;
    // What `io.bind(engine)` does, less the Client it would create per connection.
    internals.engine = this;
  }

  /** @internal */
  newDecoder(): PacketDecoder {
    return new (this.io as unknown as SocketIoInternals)._parser.Decoder();
  }

  /** @internal */
  get currentTick(): number {
    return this.tick;
  }

  /** @internal The connection opened a namespace: no connect timeout any more. */
  opened(conn: LeanConnection): void {
    this.unopened.delete(conn);
  }

  get path(): string {
    return this.opts.path;
  }
  get closeTimeoutMs(): number {
    return this.opts.closeTimeoutMs ?? 10_000;
  }
  get maxPayload(): number {
    return this.opts.maxPayload;
  }
  get maxBufferedBytes(): number {
    return this.opts.maxBufferedBytes ?? 0;
  }
  get clientsCount(): number {
    return this.count;
  }

  /** Engine.IO's `clients` (id -> connection), built on demand: code written for the stock engine (the drain) reads it. */
  get clients(): Record<string, LeanConnection> {
    const out: Record<string, LeanConnection> = {};
    for (const bucket of this.buckets) for (const conn of bucket) out[conn.id] = conn;
    return out;
  }

  /** Whether `url` is an Engine.IO request for this engine. */
  handles(url: string | undefined): boolean {
    return (url ?? "").startsWith(this.opts.path);
  }

  /** Answers plain HTTP requests on the engine's path: only WebSocket upgrades are served. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const error = ENGINE_ERROR.unknownTransport;
    this.emit("connection_error", { req, code: error.code, message: error.message, context: { transport: "polling" } });
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify(error));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server hands the socket over without an error listener.
    socket.on("error", destroyQuietly);
    if (this.closed) return refuseClosed(socket);
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    const refuse = (error: { code: number; message: string }, context: Record<string, unknown> = {}) => {
      this.emit("connection_error", { req, code: error.code, message: error.message, context });
      abortUpgrade(socket, JSON.stringify(error));
    };
    if (query.get("EIO") !== "4") return refuse(ENGINE_ERROR.unsupportedProtocolVersion, { protocol: query.get("EIO") });
    if (query.get("transport") !== "websocket") return refuse(ENGINE_ERROR.unknownTransport, { transport: query.get("transport") });
    // WebSocket only: there is never a polling session to upgrade.
    if (query.has("sid")) return refuse(ENGINE_ERROR.unknownSid, { sid: query.get("sid") });
    const upgrade = checkUpgrade(req);
    if (!upgrade.ok) {
      this.emit("connection_error", { req, code: ENGINE_ERROR.badRequest.code, message: upgrade.message, context: { status: upgrade.status } });
      if (socket.writable) socket.write(refusalResponse(upgrade.status, upgrade.message, upgrade.headers));
      socket.destroy();
      return;
    }
    const proceed = () => {
      if (!socket.writable) return void socket.destroy();
      // An asynchronous allowRequest may answer after close(): the wheel has stopped, so nothing would ever ping or time out this connection.
      if (this.closed) return refuseClosed(socket);
      socket.write(acceptResponse(upgrade.accept, upgrade.protocol));
      this.open(req, socket, head, query);
    };
    if (!this.opts.allowRequest) return proceed();
    this.opts.allowRequest(req, (err, ok) => {
      if (!ok) return refuse(ENGINE_ERROR.forbidden, { message: err ?? undefined });
      proceed();
    });
  }

  private open(req: IncomingMessage, socket: Duplex, head: Buffer, params: URLSearchParams): void {
    const id = randomBytes(15).toString("base64url");
    const origin = req.headers.origin;
    // Nothing kept for a client that added nothing to Engine.IO's own parameters (nearly all).
    const query = params.size === 2 ? undefined : Object.fromEntries(params);
    const tcp = socket as Duplex & { [CONNECTION]?: LeanConnection; setNoDelay?(on: boolean): void; setTimeout(ms: number): void; remoteAddress?: string; encrypted?: boolean };
    const conn = new LeanConnection(id, tcp.remoteAddress ?? "", origin, query, tcp.encrypted === true, tcp, this);
    tcp[CONNECTION] = conn;
    tcp.removeListener("error", destroyQuietly);
    tcp.on("data", onTcpData);
    tcp.on("end", onTcpEnd);
    tcp.on("close", onTcpClose);
    tcp.on("error", onTcpError);
    tcp.setTimeout(0);
    // Events are small and latency matters more than packing them.
    tcp.setNoDelay?.(true);
    // Round-robin over the buckets spreads pings evenly even when thousands
    // of clients connect in the same second.
    conn.bucket = this.nextBucket++ % this.buckets.length;
    this.buckets[conn.bucket].add(conn);
    this.count++;
    const connectTimeout = (this.io as unknown as SocketIoInternals | undefined)?._connectTimeout;
    // +1: this tick is already under way.
    if (connectTimeout) this.unopened.set(conn, this.tick + Math.ceil(connectTimeout / this.tickMs) + 1);
    tcp.write(textFrame(this.openPacket(id)));
    this.emit("connection", conn);
    // Bytes the client sent right behind its upgrade request.
    if (head.length > 0) readFrames(conn, head, this.opts.maxPayload);
  }

  /** @internal */
  forget(conn: LeanConnection): void {
    if (this.buckets[conn.bucket]?.delete(conn)) this.count--;
    this.unopened.delete(conn);
  }

  private turnWheel(): void {
    const t = ++this.tick;
    const count = this.buckets.length;
    // The bucket pinged `pingTimeoutTicks` ago: who has not answered by now.
    const overdue = this.buckets[(((t - this.pingTimeoutTicks) % count) + count) % count];
    for (const conn of overdue) if (this.isOverdue(conn, t)) conn.terminate("ping timeout");
    for (const conn of this.buckets[t % count]) {
      if (conn.pingTick === 0) conn.ping(t);
      else if (this.isOverdue(conn, t)) conn.terminate("ping timeout");
    }
    // As Socket.IO's connectTimeout: a connection that opened no namespace in time is closed.
    for (const [conn, deadline] of this.unopened) if (t >= deadline) conn.close();
  }

  /** Waiting for a pong for pingTimeout or more (since the ping, or since the packet that extended the wait). */
  private isOverdue(conn: LeanConnection, t: number): boolean {
    return conn.pingTick !== 0 && t - Math.abs(conn.pingTick) >= this.pingTimeoutTicks;
  }

  /** Closes every connection (Socket.IO's `io.close()` calls this). */
  close(): this {
    this.closed = true;
    clearInterval(this.wheel);
    for (const bucket of this.buckets) for (const conn of [...bucket]) conn.close();
    return this;
  }
}

function destroyQuietly(this: Duplex): void {
  this.destroy();
}

function refuseClosed(socket: Duplex): void {
  if (socket.writable) socket.write(refusalResponse(503, "the server is shutting down"));
  socket.destroy();
}

/** Engine.IO's refusal: 400 with the error as JSON. */
function abortUpgrade(socket: Duplex, body: string): void {
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
