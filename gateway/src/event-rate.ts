/**
 * Events per client connection: a token bucket (EVENT_RATE_PER_SECOND,
 * EVENT_BURST) shared by all namespaces of one transport connection. An event
 * over the limit is dropped, answered with a `rate_limited` ack when it asked
 * for one, and counted; a connection that keeps going past
 * EVENT_RATE_DISCONNECT_AFTER drops within 10 s is closed.
 */
import type { Socket } from "socket.io";
import type { LimitsConfig } from "./config.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import { CLIENT_EVENT, ERROR_CODE, type Ack } from "./protocol.js";
import { TokenBucket } from "./token-bucket.js";
import { Counter, type Registry } from "prom-client";

const DROP_WINDOW_MS = 10_000;
const KNOWN_EVENTS = new Set<string>(Object.values(CLIENT_EVENT));

interface ConnectionBudget {
  bucket: TokenBucket;
  windowStart: number;
  dropped: number;
}

export function createEventRateLimit(limits: LimitsConfig, deps: { metrics: GatewayMetrics; log: Logger }) {
  const budgets = new WeakMap<object, ConnectionBudget>();
  const disconnects = rateDisconnects(deps.metrics.registry);
  return function limitEvents(socket: Socket): void {
    if (limits.eventRatePerSecond === 0) return;
    let budget = budgets.get(socket.conn);
    if (!budget) {
      budget = { bucket: new TokenBucket(limits.eventRatePerSecond, limits.eventBurst), windowStart: Date.now(), dropped: 0 };
      budgets.set(socket.conn, budget);
    }
    const b = budget;
    socket.use((packet, next) => {
      if (b.bucket.take()) return next();
      // Label only known event names: a client must not mint metric series.
      const event = typeof packet[0] === "string" && KNOWN_EVENTS.has(packet[0]) ? packet[0] : "other";
      deps.metrics.eventsDropped.inc({ namespace: socket.nsp.name, event, code: ERROR_CODE.rateLimited });
      const ack = packet[packet.length - 1];
      if (typeof ack === "function") {
        (ack as (a: Ack) => void)({
          ok: false,
          error: { code: ERROR_CODE.rateLimited, message: `more than ${limits.eventRatePerSecond} events per second (burst ${limits.eventBurst}); this one was dropped` },
        });
      }
      const now = Date.now();
      if (now - b.windowStart > DROP_WINDOW_MS) {
        b.windowStart = now;
        b.dropped = 0;
      }
      if (++b.dropped > limits.eventRateDisconnectAfter && socket.conn.readyState === "open") {
        disconnects.inc();
        deps.log.info("disconnecting a client over the event rate limit", { namespace: socket.nsp.name, socket: socket.id, ip: socket.handshake.address, dropped: b.dropped });
        socket.conn.close();
      }
    });
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
