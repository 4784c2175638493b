/**
 * The gateway's Prometheus metrics, one registry per gateway. Handlers record
 * into these; `/metrics` renders them. Values that are costly to gather (per
 * shard channel counts) are refreshed on a timer elsewhere, never here.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly connected: Gauge<"namespace">;
  readonly connectionsAccepted: Counter<"namespace">;
  readonly connectionsRejected: Counter<"namespace" | "reason">;
  readonly eventsReceived: Counter<"namespace" | "event">;
  readonly eventsDropped: Counter<"namespace" | "event" | "code">;
  readonly broadcastsPublished: Counter<"namespace" | "outcome">;
  readonly publishSeconds: Histogram<"outcome">;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  // Default process metrics include event-loop lag, heap and open handles.
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    connected: new Gauge({
      name: "socket_io_connected",
      help: "Sockets currently connected to this gateway, by namespace",
      labelNames: ["namespace"],
      registers: [registry],
    }),
    connectionsAccepted: new Counter({
      name: "socket_io_connections_accepted_total",
      help: "Connections accepted into a namespace",
      labelNames: ["namespace"],
      registers: [registry],
    }),
    connectionsRejected: new Counter({
      name: "socket_io_connections_rejected_total",
      help: "Connections refused, by reason code",
      labelNames: ["namespace", "reason"],
      registers: [registry],
    }),
    eventsReceived: new Counter({
      name: "socket_io_events_received_total",
      help: "Events received from clients, by event name",
      labelNames: ["namespace", "event"],
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: "socket_io_events_dropped_total",
      help: "Client events refused for bad input or state, by error code",
      labelNames: ["namespace", "event", "code"],
      registers: [registry],
    }),
    broadcastsPublished: new Counter({
      name: "socket_io_broadcasts_published_total",
      help: "Room broadcasts handed to the bus, by outcome (ok, failed)",
      labelNames: ["namespace", "outcome"],
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: "redis_publish_duration_seconds",
      help: "Time for an SPUBLISH to be acknowledged by Redis",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
