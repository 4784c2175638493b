/**
 * The client side of Switchboard's contract, for Node and browsers (it only
 * needs socket.io-client):
 * - WebSocket only: the NLB has no stickiness, long-polling would break;
 * - reconnects by itself with exponential backoff and full jitter, so a fleet
 *   of clients cut off together does not come back together;
 * - honours `server:draining`: waits the delay the gateway suggests before
 *   reconnecting (a deploy spreads its clients over time);
 * - rejoins its calls (and watches) after every reconnect;
 * - reports gaps: when it was disconnected while in a call, `onGap` says
 *   from which `ts` to which `ts` events may have been missed, so the app can
 *   fetch what it lacks.
 *
 *   const client = createSwitchboardClient("https://calls.example.com", { getToken });
 *   client.onCallEvent((e) => render(e));
 *   await client.join("call-42");
 *   await client.send("call-42", "transcript", { text: "hello" });
 */
import { io, type Socket } from "socket.io-client";
import {
  CLIENT_EVENT,
  NAMESPACE,
  SERVER_EVENT,
  type Ack,
  type NamespaceName,
  type RelayedCallEvent,
  type ServerDraining,
} from "../gateway/src/protocol.js";

export interface SwitchboardClientOptions {
  /** `/calls` (join, send) or `/dashboard` (watch). Default `/calls`. */
  namespace?: NamespaceName;
  /** A fixed token, sent as the handshake's `auth.token`. */
  token?: string;
  /** Called before every (re)connect, for tokens that expire. Wins over `token`. */
  getToken?: () => string | Promise<string>;
  /** First reconnect delay, ms (default 500). Doubles per failed attempt. */
  reconnectMinMs?: number;
  /** Largest reconnect delay, ms (default 15000). */
  reconnectMaxMs?: number;
  /** How long an emit waits for its ack before failing, ms (default 10000). */
  ackTimeoutMs?: number;
  /** Connect at once (default true). */
  autoConnect?: boolean;
}

/** Events of a call possibly missed while disconnected: fetch (fromTs, toTs] from your history if it matters. */
export interface MissedEventGap {
  callId: string;
  /** `ts` of the last event received before the disconnect. */
  fromTs: number;
  /** `ts` of the first event received after reconnecting. */
  toTs: number;
  /** How long the client was without a connection. */
  disconnectedMs: number;
}

export interface SwitchboardClient {
  readonly socket: Socket;
  /** The gateway this client is connected to (from `server:hello`), if any. */
  readonly gateway: string | undefined;
  /** Resolves once connected (now, if already). */
  connected(): Promise<void>;
  join(callId: string): Promise<Ack>;
  leave(callId: string): Promise<Ack>;
  watch(callId: string): Promise<Ack>;
  unwatch(callId: string): Promise<Ack>;
  /** With `{ receipts: true }` the ack says how many members confirmed (`receipts`). */
  send(callId: string, type: string, data: unknown, o?: { receipts?: boolean }): Promise<Ack<{ receipts?: number }>>;
  onCallEvent(listener: (event: RelayedCallEvent) => void): void;
  onGap(listener: (gap: MissedEventGap) => void): void;
  /** Each (re)connect: which gateway, and how many times it has connected. */
  onConnect(listener: (info: { gateway: string; connects: number }) => void): void;
  onDraining(listener: (notice: ServerDraining) => void): void;
  close(): void;
}

/** Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.floor(Math.random() * cap);
}

export function createSwitchboardClient(url: string, opts: SwitchboardClientOptions = {}): SwitchboardClient {
  const namespace = opts.namespace ?? NAMESPACE.calls;
  const minMs = opts.reconnectMinMs ?? 500;
  const maxMs = opts.reconnectMaxMs ?? 15_000;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
  const auth =
    opts.getToken || opts.token !== undefined
      ? (cb: (data: object) => void) => {
          void Promise.resolve(opts.getToken ? opts.getToken() : opts.token!).then(
            (token) => cb({ token }),
            () => cb({}),
          );
        }
      : undefined;

  const socket = io(url + namespace, {
    transports: ["websocket"],
    // The helper owns reconnection, so it can honour server:draining and use
    // full jitter (socket.io-client's own randomisation is +-50% at most).
    reconnection: false,
    forceNew: true,
    autoConnect: false,
    timeout: 10_000,
    ...(auth ? { auth } : {}),
  });

  const calls = new Set<string>();
  const watches = new Set<string>();
  const lastTs = new Map<string, number>();
  const pendingGap = new Map<string, { fromTs: number; disconnectedMs: number }>();
  const listeners = {
    event: [] as Array<(e: RelayedCallEvent) => void>,
    gap: [] as Array<(g: MissedEventGap) => void>,
    connect: [] as Array<(i: { gateway: string; connects: number }) => void>,
    draining: [] as Array<(n: ServerDraining) => void>,
  };
  let gateway: string | undefined;
  let connects = 0;
  let attempt = 0;
  let closedByUser = false;
  let drainingDelay: number | undefined;
  let disconnectedAt: number | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let waiting: Array<() => void> = [];

  const scheduleReconnect = (delayMs: number) => {
    if (closedByUser || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!closedByUser && !socket.connected) socket.connect();
    }, delayMs);
  };

  socket.on(SERVER_EVENT.draining, (notice: ServerDraining) => {
    drainingDelay = notice.reconnectAfterMs;
    for (const l of listeners.draining) l(notice);
  });

  socket.on("server:hello", async (hello: { gateway: string }) => {
    gateway = hello.gateway;
    attempt = 0;
    connects++;
    if (disconnectedAt !== undefined) {
      const disconnectedMs = Date.now() - disconnectedAt;
      for (const callId of [...calls, ...watches]) {
        const fromTs = lastTs.get(callId);
        if (fromTs !== undefined) pendingGap.set(callId, { fromTs, disconnectedMs });
      }
      disconnectedAt = undefined;
      // Rejoin before telling anyone we are back, so a send right after
      // `connected()` reaches a room this client is in.
      await Promise.all([
        ...[...calls].map((callId) => emitAck(CLIENT_EVENT.join, { callId }).catch(() => undefined)),
        ...[...watches].map((callId) => emitAck(CLIENT_EVENT.watch, { callId }).catch(() => undefined)),
      ]);
    }
    for (const l of listeners.connect) l({ gateway: hello.gateway, connects });
    const w = waiting;
    waiting = [];
    w.forEach((resolve) => resolve());
  });

  socket.on(SERVER_EVENT.callEvent, (event: RelayedCallEvent, receipt?: (ack: { ok: true }) => void) => {
    const gap = pendingGap.get(event.callId);
    if (gap) {
      pendingGap.delete(event.callId);
      for (const l of listeners.gap) l({ callId: event.callId, fromTs: gap.fromTs, toTs: event.ts, disconnectedMs: gap.disconnectedMs });
    }
    lastTs.set(event.callId, Math.max(lastTs.get(event.callId) ?? 0, event.ts));
    for (const l of listeners.event) l(event);
    // Sent with `receipts: true`: confirm once the listeners have run.
    if (typeof receipt === "function") receipt({ ok: true });
  });

  socket.on("disconnect", () => {
    gateway = undefined;
    disconnectedAt ??= Date.now();
    if (closedByUser) return;
    const delay = drainingDelay ?? backoffDelay(attempt++, minMs, maxMs);
    drainingDelay = undefined;
    scheduleReconnect(delay);
  });

  socket.on("connect_error", () => {
    disconnectedAt ??= Date.now();
    scheduleReconnect(backoffDelay(attempt++, minMs, maxMs));
  });

  async function emitAck(event: string, payload: unknown): Promise<Ack> {
    return (await socket.timeout(ackTimeoutMs).emitWithAck(event, payload)) as Ack;
  }

  if (opts.autoConnect !== false) socket.connect();

  return {
    socket,
    get gateway() {
      return gateway;
    },
    connected() {
      if (socket.connected && gateway !== undefined) return Promise.resolve();
      if (!socket.active && !retryTimer && !closedByUser) socket.connect();
      return new Promise((resolve) => waiting.push(resolve));
    },
    async join(callId) {
      const ack = await emitAck(CLIENT_EVENT.join, { callId });
      if (ack.ok) calls.add(callId);
      return ack;
    },
    async leave(callId) {
      calls.delete(callId);
      lastTs.delete(callId);
      return emitAck(CLIENT_EVENT.leave, { callId });
    },
    async watch(callId) {
      const ack = await emitAck(CLIENT_EVENT.watch, { callId });
      if (ack.ok) watches.add(callId);
      return ack;
    },
    async unwatch(callId) {
      watches.delete(callId);
      return emitAck(CLIENT_EVENT.unwatch, { callId });
    },
    send(callId, type, data, o) {
      return emitAck(CLIENT_EVENT.callEvent, o?.receipts ? { callId, type, data, receipts: true } : { callId, type, data });
    },
    onCallEvent: (l) => void listeners.event.push(l),
    onGap: (l) => void listeners.gap.push(l),
    onConnect: (l) => void listeners.connect.push(l),
    onDraining: (l) => void listeners.draining.push(l),
    close() {
      closedByUser = true;
      if (retryTimer) clearTimeout(retryTimer);
      socket.close();
    },
  };
}
