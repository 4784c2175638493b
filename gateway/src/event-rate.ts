/**
 * Events per client connection: a token bucket (EVENT_RATE_PER_SECOND,
 * EVENT_BURST) shared by all namespaces of one transport connection. An event
 * over the limit is dropped, answered with a `rate_limited` ack when it asked
 * for one, and counted; a connection that keeps going past
 * EVENT_RATE_DISCONNECT_AFTER drops within 10 s is closed.
 *
 * The check runs inside the shared event listener (client-events.ts), and a
 * connection's budget is a few numbers: no middleware closure per socket,
 * whose cost (a closure, its context and Socket.IO's middleware array) was
 * ~400 bytes per idle connection. Events no handler is routed for are
 * ignored by Socket.IO after decoding and are not counted here; the frame
 * size cap (MAX_FRAME_BYTES) bounds what they cost.
 */
import type { Socket } from "socket.io";
import { Counter, type Registry } from "prom-client";
import type { LimitsConfig } from "./config.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import { ERROR_CODE, type AckError } from "./protocol.js";

const DROP_WINDOW_MS = 10_000;

/** A connection's budget, created on its first event. */
interface Budget {
  tokens: number;
  refilledAt: number;
  windowStart: number;
  dropped: number;
}

export interface EventRateLimit {
  /** Takes one event from the socket's connection budget; returns the refusal when over the limit. */
  take(socket: Socket, event: string): AckError | undefined;
}

export function createEventRateLimit(limits: LimitsConfig, deps: { metrics: GatewayMetrics; log: Logger }): EventRateLimit {
  const budgets = new WeakMap<object, Budget>();
  const disconnects = rateDisconnects(deps.metrics.registry);
  const refusal: AckError = {
    code: ERROR_CODE.rateLimited,
    message: `more than ${limits.eventRatePerSecond} events per second (burst ${limits.eventBurst}); this one was dropped`,
  };
  return {
    take(socket, event) {
      if (limits.eventRatePerSecond === 0) return undefined;
      const now = Date.now();
      let b = budgets.get(socket.conn);
      if (!b) {
        b = { tokens: limits.eventBurst, refilledAt: now, windowStart: now, dropped: 0 };
        budgets.set(socket.conn, b);
      }
      b.tokens = Math.min(limits.eventBurst, b.tokens + ((now - b.refilledAt) * limits.eventRatePerSecond) / 1000);
      b.refilledAt = now;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return undefined;
      }
      if (now - b.windowStart > DROP_WINDOW_MS) {
        b.windowStart = now;
        b.dropped = 0;
      }
      if (++b.dropped > limits.eventRateDisconnectAfter && socket.conn.readyState === "open") {
        disconnects.inc();
        deps.log.info("disconnecting a client over the event rate limit", {
          namespace: socket.nsp.name,
          event,
          socket: socket.id,
          ip: socket.handshake.address,
          dropped: b.dropped,
        });
        socket.conn.close();
      }
      return refusal;
    },
  };
}

function rateDisconnects(registry: Registry): Counter {
  return (
    (registry.getSingleMetric("socket_io_rate_limit_disconnects_total") as Counter | undefined) ??
    new Counter({
      name: "socket_io_rate_limit_disconnects_total",
      help: "Client connections closed for exceeding the event rate limit persistently",
      registers: [registry],
    })
  );
}
