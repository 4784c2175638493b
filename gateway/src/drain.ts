/**
 * Graceful drain on SIGTERM (every deploy and every scale-in):
 * 1. /readyz turns 503 at once, so the balancer sends no new connections;
 * 2. for the grace period the gateway keeps serving everything it has;
 * 3. then its connections are closed in jittered batches spread over the rest
 *    of the drain window, each told first (`server:draining`) how long to wait
 *    before reconnecting: thousands of clients reconnecting in the same second
 *    is the reconnect storm that takes a fleet down;
 * 4. Socket.IO, the adapters and the Redis clients are closed, and the
 *    process exits 0, well before ECS' stop timeout (120 s) kills it.
 * A second SIGTERM, or the end of the window, closes whatever is left at once.
 */
import type { Socket as EngineSocket } from "engine.io";
import type { Socket } from "socket.io";
import type { Gateway } from "./server.js";
import type { Logger } from "./log.js";
import { SERVER_EVENT, type ServerDraining } from "./protocol.js";

/** One batch per tick: fine enough to spread load, coarse enough to stay cheap with 50k connections. */
const TICK_MS = 200;
/**
 * The reconnect delay suggested to each client, drawn at random in this range:
 * on top of the batch spread it keeps the reconnects of one batch from landing
 * on the surviving gateways in the same instant.
 */
const RECONNECT_AFTER_MS = { min: 250, max: 3000 };
/** Closing Socket.IO and Redis must not hold the exit hostage (ECS SIGKILLs at stopTimeout). */
const CLOSE_TIMEOUT_MS = 10_000;

export interface DrainPlan {
  graceMs: number;
  /** From SIGTERM to the last disconnect. */
  windowMs: number;
}

export interface Drain {
  /** Starts the drain; resolves when the gateway is closed. A second call forces the rest. */
  begin(signal: string): Promise<void>;
}

export function createDrain(gateway: Gateway, plan: DrainPlan, log: Logger): Drain {
  let done: Promise<void> | undefined;
  let forced = false;
  let wake: (() => void) | undefined;

  const sleepUnlessForced = (ms: number) =>
    new Promise<void>((resolve) => {
      if (forced || ms <= 0) return resolve();
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function run(signal: string): Promise<void> {
    const started = Date.now();
    gateway.markDraining();
    log.info("draining", { signal, graceMs: plan.graceMs, windowMs: plan.windowMs, connections: openConnections(gateway).length });
    await sleepUnlessForced(plan.graceMs);

    const deadline = started + Math.max(plan.windowMs, plan.graceMs);
    let closed = 0;
    for (;;) {
      const open = openConnections(gateway);
      if (open.length === 0) break;
      const ticksLeft = Math.max(1, Math.ceil((deadline - Date.now()) / TICK_MS));
      // Connections that arrived during the drain (the NLB deregisters with a
      // delay) are picked up by the next tick like the rest.
      const batch = forced || ticksLeft === 1 ? open : pickRandom(open, Math.ceil(open.length / ticksLeft));
      for (const conn of batch) {
        const jitter = forced || ticksLeft === 1 ? 0 : Math.random() * TICK_MS;
        setTimeout(() => closeConnection(conn), jitter).unref();
        closed++;
      }
      await sleepUnlessForced(TICK_MS);
      if (forced || Date.now() >= deadline) {
        for (const conn of openConnections(gateway)) closeConnection(conn);
        // Let the last close frames leave before the server goes.
        await new Promise((r) => setTimeout(r, 50));
        break;
      }
    }
    log.info("connections drained", { closed, forced, ms: Date.now() - started });

    const closing = gateway.close();
    const timer = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
    await Promise.race([closing.catch((err) => log.warn("close failed", { error: err as Error })), timer]);
    log.info("stopped", { ms: Date.now() - started });
  }

  return {
    begin(signal) {
      if (done) {
        if (!forced) log.warn("second signal: closing the remaining connections now", { signal });
        forced = true;
        wake?.();
        return done;
      }
      done = run(signal);
      return done;
    },
  };
}

interface Connection {
  conn: EngineSocket;
  /** Its sockets in each namespace, to notify. */
  sockets: Socket[];
}

/** Open Engine.IO connections (one per client, whatever namespaces it joined), in one pass. */
function openConnections(gateway: Gateway): Connection[] {
  const io = gateway.io;
  if (!io) return [];
  const byConn = new Map<EngineSocket, Socket[]>();
  for (const name of gateway.config.namespaces) {
    for (const socket of io.of(name).sockets.values()) {
      const list = byConn.get(socket.conn as EngineSocket);
      if (list) list.push(socket);
      else byConn.set(socket.conn as EngineSocket, [socket]);
    }
  }
  const engine = io.engine as unknown as { clients: Record<string, EngineSocket> };
  return Object.values(engine.clients)
    .filter((conn) => conn.readyState === "open")
    .map((conn) => ({ conn, sockets: byConn.get(conn) ?? [] }));
}

/**
 * Tells every namespace socket of the connection why, then closes it. The
 * engine flushes the notice before the close frame. The client sees a
 * "transport close", so a plain socket.io-client reconnects by itself too.
 */
function closeConnection({ conn, sockets }: Connection): void {
  if (conn.readyState !== "open") return;
  const notice: ServerDraining = {
    reason: "gateway draining for a deploy or scale-in",
    reconnectAfterMs: Math.round(RECONNECT_AFTER_MS.min + Math.random() * (RECONNECT_AFTER_MS.max - RECONNECT_AFTER_MS.min)),
  };
  for (const socket of sockets) socket.emit(SERVER_EVENT.draining, notice);
  conn.close();
}

function pickRandom<T>(items: T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}
