/**
 * The gateway's Prometheus metrics, one registry per gateway. Handlers record
 * into these; `/metrics` renders them. Values that are costly to gather (per
 * shard channel counts) are refreshed on a timer elsewhere, never here: the
 * gauges' collect() hooks only read what `MetricSources` already holds.
 * docs/observability.md lists every metric.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Live values read at scrape time; each must be cheap (no I/O). */
export interface MetricSources {
  /** Connected sockets per namespace served. */
  connectedByNamespace(): Iterable<[namespace: string, sockets: number]>;
  /** Sharded channels this process is subscribed to. */
  subscribedChannels(): number;
  /** The last polled channel count of each shard (primary host:port). */
  shardChannels(): ReadonlyMap<string, number>;
}

const NO_SOURCES: MetricSources = {
  connectedByNamespace: () => [],
  subscribedChannels: () => 0,
  shardChannels: () => new Map(),
};

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly connected: Gauge<"namespace">;
  readonly connectionsAccepted: Counter<"namespace">;
  readonly connectionsRejected: Counter<"namespace" | "reason">;
  readonly eventsReceived: Counter<"namespace" | "event">;
  readonly eventsDropped: Counter<"namespace" | "event" | "code">;
  readonly broadcastsPublished: Counter<"namespace" | "outcome">;
  readonly publishSeconds: Histogram<"outcome">;
  readonly deliverySeconds: Histogram<"namespace">;
  readonly pubsubChannels: Gauge<"scope" | "shard">;
  readonly shardPollFailures: Counter<"shard">;
  readonly slowClientsCut: Counter;
}

export function createMetrics(sources: MetricSources = NO_SOURCES): GatewayMetrics {
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
      // Read live at scrape time: each namespace already keeps the count.
      collect() {
        for (const [namespace, sockets] of sources.connectedByNamespace()) this.set({ namespace }, sockets);
      },
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
    deliverySeconds: new Histogram({
      name: "socket_io_delivery_latency_seconds",
      help: "From the ts a gateway stamps on a relayed call:event to its arrival from the bus at another gateway",
      labelNames: ["namespace"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    pubsubChannels: new Gauge({
      name: "redis_pubsub_channels",
      help: 'Sharded pub/sub channels: scope="subscribed" is this process\'s own subscriptions; scope="shard" is what each primary reports (PUBSUB SHARDCHANNELS, polled on a timer)',
      labelNames: ["scope", "shard"],
      registers: [registry],
      collect() {
        // Reset first: a shard that stopped answering or is no longer a
        // primary must disappear, not keep its last value.
        this.reset();
        this.set({ scope: "subscribed" }, sources.subscribedChannels());
        for (const [shard, channels] of sources.shardChannels()) this.set({ scope: "shard", shard }, channels);
      },
    }),
    shardPollFailures: new Counter({
      name: "redis_pubsub_shard_poll_failures_total",
      help: "PUBSUB SHARDCHANNELS polls that failed or timed out, by shard",
      labelNames: ["shard"],
      registers: [registry],
    }),
    slowClientsCut: new Counter({
      name: "socket_io_slow_clients_cut_total",
      help: "Connections cut because the client left more than MAX_BUFFERED_BYTES unread",
      registers: [registry],
    }),
  };
}
