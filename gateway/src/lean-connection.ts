/**
 * One client connection of the lean engine, as one object: its WebSocket
 * (RFC 6455 frames read and written straight on the TCP socket), its
 * Engine.IO v4 session (open, ping/pong, message, close packets) and its
 * Socket.IO client role (decoding packets, routing them to the namespace
 * sockets it opened, writing what they emit).
 *
 * Why one object: in the stock stack these are six (a `ws` WebSocket with
 * its Receiver stream and Sender, an Engine.IO Socket and Transport,
 * Socket.IO's Client with its Decoder and two Maps), each with its own
 * listeners, bound functions and hash tables: ~5 KB of heap per idle
 * connection before the namespace socket itself. Here the connection is a
 * few fields; listeners are shared functions; parser state exists only while
 * a frame is half-read; a decoder exists only while a binary packet's
 * attachments are arriving.
 *
 * Socket.IO reaches this object as both `socket.client` and `socket.conn`,
 * and calls the methods its own Client has (`_packet`, `writeToEngine`,
 * `_remove`, `_disconnect`); `test/lean-engine.test.ts` holds it to the
 * stock behaviour through the real socket.io-client.
 */
import type { Duplex } from "node:stream";
import type { Socket } from "socket.io";
import { SmallEmitter } from "./small-emitter.js";
import { binaryFrame, closeFrame, pongFrame, readFrames, textFrame, type FrameHandler, type FrameReaderState } from "./websocket-frames.js";
import type { LeanEngine } from "./lean-engine.js";

export type CloseReason = "transport close" | "transport error" | "ping timeout" | "forced close" | "parse error";

/** Socket.IO packet types (socket.io-protocol v5). */
const PACKET = { connect: 0, connectError: 4, binaryEvent: 5, binaryAck: 6 } as const;

interface Packet {
  type: number;
  nsp: string;
  data?: any;
  id?: number;
  attachments?: number;
}
/** Socket.IO's decoder as this connection drives it (socket.io-parser's, or a custom `parser` option's). */
export interface PacketDecoder {
  add(data: string | Buffer): void;
  on(event: "decoded", fn: (packet: Packet) => void): unknown;
  destroy(): void;
}
/** What Socket.IO's Socket and Namespace call on their client that its public types do not show. */
type SocketInternals = Socket & { _onpacket(p: Packet): void; _onclose(reason: string, description?: unknown): void; _onerror(err: Error): void };

const ENCRYPTED = Object.freeze({ encrypted: true });
const PLAIN = Object.freeze({ encrypted: false });
const WRITABLE = Object.freeze({ name: "websocket", writable: true });
const BUSY = Object.freeze({ name: "websocket", writable: false });
const PING_FRAME = textFrame("2");

export const CONNECTION = Symbol("leanConnection");
/** The upgraded socket: a `net.Socket` (or `tls.TLSSocket`), typed as Node's upgrade event gives it. */
type Tcp = Duplex & { [CONNECTION]?: LeanConnection; setTimeout(ms: number): void };

export class LeanConnection extends SmallEmitter implements FrameReaderState, FrameHandler {
  /** "closing": the peer asked to close; packets it sent before that are still being delivered. */
  readyState: "open" | "closing" | "closed" = "open";
  /**
   * The engine's wheel tick at which the unanswered ping was sent, 0 when the
   * peer has answered, negative once another packet has extended the wait
   * (as Engine.IO does, once per ping). Ticks, not timestamps: a small
   * integer is stored in the object, a timestamp costs a heap number.
   */
  pingTick = 0;
  /** The heartbeat bucket this connection sits in. */
  bucket = 0;
  wsPartial: Buffer | undefined = undefined;
  wsFragments: Buffer[] | undefined = undefined;
  wsFragmentsBinary = false;
  wsFragmentsLength = 0;
  /** The namespace sockets opened over this connection: nearly always one, rarely more. */
  private firstSocket: SocketInternals | undefined = undefined;
  private otherSockets: SocketInternals[] | undefined = undefined;
  /** Only while a binary packet's attachments are arriving (or always, with a custom parser). */
  private decoder: PacketDecoder | undefined = undefined;

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    /** The only request header kept: Socket.IO reports it in `handshake.headers` and `xdomain`. */
    private readonly origin: string | undefined,
    /** The upgrade URL's query, for `socket.handshake.query`; undefined when it is only Engine.IO's own. */
    private readonly query: Record<string, string> | undefined,
    private readonly encrypted: boolean,
    private readonly tcp: Tcp,
    private readonly engine: LeanEngine,
  ) {
    super();
  }

  /** Engine.IO protocol revision. */
  get protocol(): 4 {
    return 4;
  }
  /** Socket.IO reads `client.conn`; here the client is the connection. */
  get conn(): this {
    return this;
  }
  /**
   * What Socket.IO reads to build `socket.handshake` (and returns as
   * `socket.request`): rebuilt on each access from the few things kept, so
   * properties set on it do not stay, and `headers` holds only `origin`.
   * `headers` and the default `_query` are fresh objects, not shared frozen
   * ones: Socket.IO hands them to the application as `socket.handshake`, and
   * a middleware that writes to a frozen object throws in strict mode (an
   * unhandled rejection inside Socket.IO, which ends the process).
   */
  get request() {
    return {
      headers: this.origin === undefined ? {} : { origin: this.origin },
      _query: this.query ?? { EIO: "4", transport: "websocket" },
      // As the stock engine's `req.url`: code reads parameters from `handshake.url`.
      url: this.query === undefined ? this.engine.defaultUrl : `${this.engine.path}?${new URLSearchParams(this.query)}`,
      connection: this.encrypted ? ENCRYPTED : PLAIN,
    };
  }
  /** Largest message the peer may send. */
  get maxPayload(): number {
    return this.engine.maxPayload;
  }
  /** Socket.IO checks `transport.writable` before a volatile packet. */
  get transport() {
    return this.tcp.writableLength === 0 ? WRITABLE : BUSY;
  }

  // ---- Engine.IO: writing -------------------------------------------------

  /** Sends one Engine.IO message packet: text gets the "4" prefix, binary goes as is. */
  write(data: string | Buffer | ArrayBuffer | ArrayBufferView, opts?: { wsPreEncodedFrame?: Buffer[] }, cb?: (err?: Error | null) => void): this {
    if (this.readyState !== "open") return this;
    // Broadcasts arrive with the frame already built once for all receivers.
    if (opts?.wsPreEncodedFrame) this.writeFrame(opts.wsPreEncodedFrame, cb);
    else if (typeof data === "string") this.tcp.write(textFrame("4" + data), cb);
    else this.writeFrame(binaryFrame(asBuffer(data)), cb);
    const limit = this.engine.maxBufferedBytes;
    if (limit > 0 && this.tcp.writableLength > limit) this.cutSlowPeer(limit);
    return this;
  }

  /**
   * The peer has not taken `limit` bytes: it stopped reading (or reads far
   * slower than its rooms talk). Cut it now, dropping what is queued; its
   * client reconnects and rejoins, where waiting would hold the memory.
   */
  private cutSlowPeer(limit: number): void {
    const buffered = this.tcp.writableLength;
    this.terminate("transport error", new Error(`the peer has not read ${buffered} bytes (limit ${limit}, MAX_BUFFERED_BYTES)`));
    this.engine.emit("slow_client", this);
  }
  send(data: string | Buffer | ArrayBuffer | ArrayBufferView, opts?: { wsPreEncodedFrame?: Buffer[] }, cb?: (err?: Error | null) => void): this {
    return this.write(data, opts, cb);
  }

  private writeFrame(parts: Buffer[], cb?: (err?: Error | null) => void): void {
    if (parts.length === 1) {
      this.tcp.write(parts[0], cb);
      return;
    }
    // Header and payload leave in one writev.
    this.tcp.cork();
    try {
      for (let i = 0; i < parts.length - 1; i++) this.tcp.write(parts[i]);
      this.tcp.write(parts[parts.length - 1], cb);
    } finally {
      this.tcp.uncork();
    }
  }

  /** Closes the connection; queued frames are sent first (the close frame follows them). */
  close(): void {
    if (this.readyState !== "open") return;
    this.endTransport(closeFrame());
    this.finish("forced close");
  }

  /** @internal */
  ping(tick: number): void {
    this.pingTick = tick;
    this.tcp.write(PING_FRAME);
  }

  /** @internal Cuts the TCP connection at once (ping timeout, garbage). */
  terminate(reason: CloseReason, description?: unknown): void {
    if (this.readyState === "closed") return;
    this.tcp.destroy();
    this.finish(reason, description);
  }

  /**
   * Sends a close frame, half-closes, and cuts the socket at a fixed
   * deadline if the peer never finishes the close (an idle timeout would
   * let a peer that keeps sending hold it open forever).
   */
  private endTransport(frame: Buffer): void {
    const tcp = this.tcp;
    if (!tcp.writable) {
      tcp.destroy();
      return;
    }
    tcp.end(frame);
    setTimeout(destroyTcp, this.engine.closeTimeoutMs, tcp).unref();
  }

  // ---- WebSocket frames in (FrameHandler) ---------------------------------

  /** @internal */
  onWsMessage(data: Buffer, isBinary: boolean): void {
    if (this.readyState !== "open") return;
    if (isBinary) {
      if (this.listenerCount("packet") > 0) this.emit("packet", { type: "message", data });
      this.extendPingWait();
      return this.onPacketData(data);
    }
    const text = data.toString();
    // engine.io's `packet` event (e.g. `socket.conn.on("packet", ({ type }) => type === "pong")`);
    // the packet object is built only when someone listens.
    if (this.listenerCount("packet") > 0) this.emit("packet", enginePacket(text));
    switch (text.charCodeAt(0)) {
      case 0x34: // "4" message
        this.extendPingWait();
        return this.onPacketData(text.slice(1));
      case 0x33: // "3" pong
        this.pingTick = 0;
        this.emit("heartbeat");
        return;
      case 0x31: // "1" close
        return this.closeByPeer(closeFrame(), "transport close");
      case 0x36: // "6" noop
        return;
      case 0x32: // "2" ping goes server to client in v4
        return this.terminate("transport error", new Error("invalid heartbeat direction"));
      default:
        this.terminate("parse error");
    }
  }

  /** As Engine.IO: a packet while a pong is awaited restarts the wait once; only a pong ends it. */
  private extendPingWait(): void {
    if (this.pingTick > 0) this.pingTick = -this.engine.currentTick;
  }
  /** @internal */
  onWsPing(payload: Buffer): void {
    if (this.readyState === "open") this.tcp.write(pongFrame(payload));
  }
  /** @internal */
  onWsPong(): void {}
  /** @internal The peer closed: answer with the same code, as RFC 6455 asks. */
  onWsClose(code: number | undefined): void {
    this.closeByPeer(closeFrame(code), "transport close");
  }
  /** @internal */
  onWsProtocolError(closeCode: number, message: string): void {
    this.closeByPeer(closeFrame(closeCode), "transport error", new Error(message));
  }

  /**
   * The peer closed (or broke the protocol): the close frame goes out now,
   * the namespace sockets hear of it after the packets that arrived with it
   * (delivered on the next ticks), as with the stock engine.
   */
  private closeByPeer(frame: Buffer, reason: CloseReason, description?: unknown): void {
    if (this.readyState !== "open") return;
    this.readyState = "closing";
    this.endTransport(frame);
    setImmediate(finishLater, this, reason, description);
  }

  // ---- Socket.IO client role ----------------------------------------------

  private onPacketData(data: string | Buffer): void {
    try {
      if (this.decoder || typeof data !== "string" || !this.engine.decodeString) return this.feedDecoder(data);
      const packet = this.engine.decodeString(data);
      // A binary packet's attachments follow in their own frames: only then is per-connection state needed.
      if (packet.type === PACKET.binaryEvent || packet.type === PACKET.binaryAck) return this.feedDecoder(data);
      this.onDecoded(packet);
    } catch (err) {
      this.onDecodeError(err as Error);
    }
  }

  private feedDecoder(data: string | Buffer): void {
    if (!this.decoder) {
      const decoder = this.engine.newDecoder();
      decoder.on("decoded", (packet) => {
        // Back to stateless decoding once the packet is whole (kept with a custom parser).
        if (this.engine.decodeString) this.decoder = undefined;
        this.onDecoded(packet);
      });
      this.decoder = decoder;
    }
    this.decoder.add(data);
  }

  /** As Socket.IO's Client: a CONNECT opens a namespace; other packets go to that namespace's socket. */
  private onDecoded(packet: Packet): void {
    const socket = this.socketIn(packet.nsp);
    if (!socket && packet.type === PACKET.connect) this.connect(packet.nsp, packet.data ?? {});
    else if (socket && packet.type !== PACKET.connect && packet.type !== PACKET.connectError) process.nextTick(deliverPacket, socket, packet);
    else this.close();
  }

  private onDecodeError(err: Error): void {
    for (const socket of this.sockets()) socket._onerror(err);
    this.close();
  }

  private connect(name: string, auth: object): void {
    const server = this.engine.io as unknown as {
      _nsps: Map<string, unknown>;
      _checkNamespace(name: string, auth: object, fn: (nsp: unknown) => void): void;
    };
    if (server._nsps.has(name)) return this.openNamespace(name, auth);
    server._checkNamespace(name, auth, (dynamic) => {
      if (dynamic) this.openNamespace(name, auth);
      else this._packet({ type: PACKET.connectError, nsp: name, data: { message: "Invalid namespace" } });
    });
  }

  private openNamespace(name: string, auth: object): void {
    const nsp = this.engine.io!.of(name) as unknown as { _add(client: unknown, auth: object, fn: (s: SocketInternals) => void): void };
    nsp._add(this, auth, (socket) => {
      if (this.firstSocket === undefined) this.firstSocket = socket;
      else (this.otherSockets ??= []).push(socket);
      this.engine.opened(this);
    });
  }

  private socketIn(nsp: string): SocketInternals | undefined {
    if (this.firstSocket?.nsp.name === nsp) return this.firstSocket;
    return this.otherSockets?.find((s) => s.nsp.name === nsp);
  }

  private sockets(): SocketInternals[] {
    if (this.firstSocket === undefined) return [];
    return this.otherSockets ? [this.firstSocket, ...this.otherSockets] : [this.firstSocket];
  }

  /** @internal Socket.IO: a namespace socket of this client closed. */
  _remove(socket: Socket): void {
    if (this.firstSocket === socket) this.firstSocket = this.otherSockets?.shift();
    else if (this.otherSockets) this.otherSockets = this.otherSockets.filter((s) => s !== socket);
    if (this.otherSockets?.length === 0) this.otherSockets = undefined;
  }

  /** @internal Socket.IO: `socket.disconnect(true)` closes every namespace and the connection. */
  _disconnect(): void {
    for (const socket of this.sockets()) socket.disconnect();
    this.firstSocket = this.otherSockets = undefined;
    this.close();
  }

  /** @internal Socket.IO: writes one packet of a namespace socket. */
  _packet(packet: unknown, opts: { preEncoded?: boolean; volatile?: boolean; wsPreEncodedFrame?: Buffer[] } = {}): void {
    if (this.readyState !== "open") return;
    const encoded = opts.preEncoded ? (packet as Array<string | Buffer>) : this.engine.encoder!.encode(packet as never);
    this.writeToEngine(encoded, opts);
  }

  /** @internal Socket.IO and its adapter: writes packets already encoded (a broadcast encodes once). */
  writeToEngine(encodedPackets: string | Buffer | Array<string | Buffer>, opts: { volatile?: boolean; wsPreEncodedFrame?: Buffer[] }): void {
    if (opts.volatile && !this.transport.writable) return;
    if (!Array.isArray(encodedPackets)) this.write(encodedPackets, opts);
    else for (const p of encodedPackets) this.write(p, opts);
  }

  // ---- end of life ----------------------------------------------------------

  /** @internal The connection is over, for whatever reason: its namespace sockets disconnect, listeners hear "close". */
  finish(reason: CloseReason, description?: unknown): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.engine.forget(this);
    const sockets = this.sockets();
    this.firstSocket = this.otherSockets = undefined;
    for (const socket of sockets) socket._onclose(reason, description);
    this.decoder?.destroy();
    this.decoder = undefined;
    this.wsPartial = this.wsFragments = undefined;
    this.emit("close", reason, description);
  }
}

/** Engine.IO v4 packet types by their digit, as engine.io-parser names them. */
const PACKET_TYPE_NAMES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];

/** A text packet as engine.io-parser's `decodePacket` gives it to `packet` listeners. */
function enginePacket(text: string): { type: string; data?: string } {
  const type = PACKET_TYPE_NAMES[text.charCodeAt(0) - 0x30];
  if (type === undefined) return { type: "error", data: "parser error" };
  return text.length > 1 ? { type, data: text.slice(1) } : { type };
}

function finishLater(conn: LeanConnection, reason: CloseReason, description?: unknown): void {
  conn.finish(reason, description);
}

function deliverPacket(socket: SocketInternals, packet: Packet): void {
  socket._onpacket(packet);
}

function destroyTcp(tcp: Duplex): void {
  tcp.destroy();
}

/** Socket.IO passes attachments as given by the application: any binary view goes out as its bytes. */
function asBuffer(data: Buffer | ArrayBuffer | ArrayBufferView): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

// Shared TCP listeners: `this` is the socket, the connection hangs off it.
export function onTcpData(this: Tcp, chunk: Buffer): void {
  const conn = this[CONNECTION]!;
  if (conn.readyState === "open") readFrames(conn, chunk, conn.maxPayload);
}
export function onTcpEnd(this: Tcp): void {
  // The peer half-closed without a close frame: finish our half too.
  this.end();
  this[CONNECTION]!.finish("transport close");
}
export function onTcpClose(this: Tcp): void {
  this[CONNECTION]!.finish("transport close");
}
export function onTcpError(this: Tcp, err: Error): void {
  this.destroy();
  this[CONNECTION]!.finish("transport error", err);
}
