/**
 * A lean Socket.IO v4 client (Engine.IO protocol 4, websocket transport) over
 * `ws`, for the load generator: socket.io-client keeps tens of KB per socket
 * (an Engine.IO socket, a Manager, a Socket, their emitters and timers),
 * which caps a worker far below its file-descriptor limit. This speaks just
 * what the load test needs:
 *   engine:    `0{...}` open, `2` ping -> `3` pong, `1` close, `4...` message
 *   socket.io: `40/calls,{auth}` connect, `44/calls,{...}` refused,
 *              `42/calls,<ackId>["event",payload]`, `43/calls,<ackId>[...]` ack
 */
import WebSocket from "ws";

export interface SioConnectOptions {
  /** http(s)://host:port of a gateway or balancer. */
  url: string;
  namespace: string;
  /** Sent as the handshake's `auth` object, e.g. `{ token }`. */
  auth?: Record<string, unknown>;
  /** Source address for the TCP connection (spreads ephemeral ports over 127.0.0.x on loopback). */
  localAddress?: string;
  /** wss:// only: check the certificate chain, not the host name (see the load test's `tlsSkipHostname`). */
  tlsSkipHostname?: boolean;
  timeoutMs: number;
}

/** A CONNECT_ERROR packet's body: Socket.IO sends `{ message, data? }`, the gateway puts its code in `data.code`. */
function parseRefusal(body: string): { code?: string; message: string } {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; data?: { code?: unknown } };
    const code = typeof parsed.data?.code === "string" && /^[a-z0-9_]{1,64}$/.test(parsed.data.code) ? parsed.data.code : undefined;
    return { code, message: typeof parsed.message === "string" ? parsed.message : body };
  } catch {
    return { message: body };
  }
}

/** Why a connection failed or ended; `kind` is what the summary counts. */
export class SioError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

type AckWaiter = { resolve: (args: unknown[]) => void; reject: (e: SioError) => void; timer: NodeJS.Timeout };

export class SioConnection {
  /** Set by the owner: called for every event the server emits to this socket. */
  onEvent: ((name: string, payload: unknown) => void) | undefined;
  /** Set by the owner: called once when the connection ends for any reason after it was open. */
  onClose: ((reason: string) => void) | undefined;
  private acks: Map<number, AckWaiter> | undefined;
  private nextAckId = 1;
  private closedByUs = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly prefix: string,
  ) {}

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  static open(o: SioConnectOptions): Promise<SioConnection> {
    const wsUrl = `${o.url.replace(/^http/, "ws").replace(/\/$/, "")}/socket.io/?EIO=4&transport=websocket`;
    const prefix = o.namespace === "/" ? "" : `${o.namespace},`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, {
        perMessageDeflate: false,
        handshakeTimeout: o.timeoutMs,
        localAddress: o.localAddress,
        skipUTF8Validation: true,
        ...(o.tlsSkipHostname ? { checkServerIdentity: () => undefined } : {}),
      });
      const conn = new SioConnection(ws, prefix);
      let settled = false;
      const fail = (err: SioError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      const timer = setTimeout(() => fail(new SioError("timeout", `no Socket.IO connect within ${o.timeoutMs} ms`)), o.timeoutMs);
      ws.on("error", (err: NodeJS.ErrnoException) => {
        if (!settled) fail(new SioError(err.code ?? "ws_error", err.message));
      });
      ws.on("unexpected-response", (_req, res) => fail(new SioError(`http_${res.statusCode}`, `upgrade refused: HTTP ${res.statusCode}`)));
      ws.on("close", (code, reason) => {
        if (!settled) return fail(new SioError("closed_in_handshake", `closed during handshake (${code} ${reason})`));
        conn.failAcks(new SioError("closed", "connection closed"));
        if (!conn.closedByUs) conn.onClose?.(`closed by peer (${code})`);
      });
      ws.on("message", (data: Buffer) => {
        const text = data.toString();
        if (settled) return conn.receive(text);
        if (text[0] === "0") {
          ws.send(`40${prefix}${o.auth ? JSON.stringify(o.auth) : ""}`);
        } else if (text.startsWith(`40${prefix}`)) {
          settled = true;
          clearTimeout(timer);
          resolve(conn);
        } else if (text.startsWith(`44${prefix}`)) {
          const refusal = parseRefusal(text.slice(2 + prefix.length));
          // The gateway's code (auth_invalid, user_connection_limit, ...) is the
          // kind, so the summary says what to fix, not just that it failed.
          fail(new SioError(refusal.code ? `connect_refused:${refusal.code}` : "connect_refused", `namespace connect refused: ${refusal.message}`));
        } else if (text === "2") {
          ws.send("3");
        }
      });
    });
  }

  /** Emits an event and resolves with the ack's arguments. */
  emitWithAck(event: string, payload: unknown, timeoutMs: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) return reject(new SioError("closed", "connection closed"));
      const id = this.nextAckId++;
      const timer = setTimeout(() => {
        this.acks?.delete(id);
        reject(new SioError("ack_timeout", `no ack for ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      (this.acks ??= new Map()).set(id, { resolve, reject, timer });
      this.ws.send(`42${this.prefix}${id}${JSON.stringify([event, payload])}`);
    });
  }

  close(): void {
    this.closedByUs = true;
    this.failAcks(new SioError("closed", "closed by the load generator"));
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else this.ws.terminate();
  }

  /** Ends the TCP connection at once (no close handshake): for teardown of many sockets. */
  destroy(): void {
    this.closedByUs = true;
    this.failAcks(new SioError("closed", "closed by the load generator"));
    this.ws.terminate();
  }

  private receive(text: string): void {
    if (text === "2") {
      this.ws.send("3");
      return;
    }
    if (text[0] !== "4") return; // noop, close: the 'close' event reports the end
    const type = text[1];
    if (!text.startsWith(this.prefix, 2)) return;
    let i = 2 + this.prefix.length;
    let id = 0;
    let hasId = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      id = id * 10 + (c - 48);
      hasId = true;
    }
    if (type === "2") {
      const args = JSON.parse(text.slice(i)) as unknown[];
      this.onEvent?.(args[0] as string, args[1]);
    } else if (type === "3" && hasId) {
      const waiter = this.acks?.get(id);
      if (!waiter) return;
      this.acks!.delete(id);
      clearTimeout(waiter.timer);
      waiter.resolve(JSON.parse(text.slice(i)) as unknown[]);
    } else if (type === "1") {
      this.onClose?.("namespace disconnected by the server");
      this.closedByUs = true; // reported once
      this.ws.terminate();
    }
  }

  private failAcks(err: SioError): void {
    if (!this.acks) return;
    for (const w of this.acks.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.acks.clear();
  }
}
