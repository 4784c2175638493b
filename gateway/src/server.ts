/**
 * Assembles one gateway: HTTP routes, the bus, the Socket.IO server with the
 * sharded adapter, and the namespaces this gateway serves. `main.ts` runs it
 * as a process; nothing here reads the environment.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { createBusAdapter } from "./adapter.js";
import { createAdmission, type Admission } from "./admission.js";
import { createEventRateLimit } from "./event-rate.js";
import { createBus, type Bus } from "./bus.js";
import { serveCalls } from "./calls.js";
import { createCloudWatchPublisher } from "./cloudwatch.js";
import type { GatewayConfig } from "./config.js";
import { loadConsoleAssets } from "./console-assets.js";
import { serveDashboard } from "./dashboard.js";
import { measureDelivery } from "./delivery-latency.js";
import { serveFleet, type FleetFeed } from "./fleet-status.js";
import { createHttpRoutes, type Readiness } from "./http-routes.js";
import { LeanEngine } from "./lean-engine.js";
import type { Logger } from "./log.js";
import { createMetrics, type GatewayMetrics } from "./metrics.js";
import { NAMESPACE } from "./protocol.js";
import { watchShardChannels } from "./shard-channels.js";
import { trackTaskFigures } from "./task-figures.js";
import { createPublishDelivery } from "./publish-delivery.js";
import { createPublishEndpoint } from "./publish-endpoint.js";

export interface Gateway {
  readonly config: GatewayConfig;
  readonly http: HttpServer;
  readonly bus: Bus;
  readonly metrics: GatewayMetrics;
  /** Undefined until start() has connected the bus. */
  io: Server | undefined;
  /** Listens at once (so /healthz and /readyz answer), then connects the bus and opens Socket.IO. */
  start(): Promise<void>;
  /** Marks the gateway as draining: /readyz answers 503 from now on. */
  markDraining(): void;
  readiness(): Readiness;
  /** Disconnects every client, closes Socket.IO, the bus and the HTTP server. */
  close(): Promise<void>;
  address(): AddressInfo;
}

// A shard slower than this to list its channels is reported as failed for
// that poll; PUBSUB SHARDCHANNELS normally answers in well under 10 ms.
const SHARD_POLL_TIMEOUT_MS = 2000;

export function createGateway(config: GatewayConfig, log: Logger): Gateway {
  let draining = false;
  let io: Server | undefined;
  let subscribedChannels = 0;
  const connectedByNamespace = (): Array<[string, number]> =>
    io ? config.namespaces.map((name) => [name, io!.of(name).sockets.size]) : [];
  const bus = createBus(config.redis, log);
  const shardChannels = watchShardChannels(bus, {
    intervalMs: config.shardChannelsPollSeconds * 1000,
    timeoutMs: SHARD_POLL_TIMEOUT_MS,
    onFailure: (shard) => metrics.shardPollFailures.inc({ shard }),
    log,
  });
  const metrics = createMetrics({
    connectedByNamespace,
    subscribedChannels: () => subscribedChannels,
    shardChannels: () => shardChannels.counts(),
  });
  const figures = trackTaskFigures(metrics, () => connectedByNamespace().reduce((sum, [, n]) => sum + n, 0));
  const cloudwatch = createCloudWatchPublisher(config.cloudwatch, () => figures.take(), log);
  const recordDelivery = measureDelivery(config.gatewayId, (namespace, seconds) => {
    metrics.deliverySeconds.observe({ namespace }, seconds);
    figures.recordDelivery(seconds);
  });
  let fleet: FleetFeed | undefined;
  let admission: Admission | undefined;

  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: "draining" };
    if (!io) return { ready: false, reason: "starting: connecting to redis" };
    const health = bus.health();
    if (!health.ok) return { ready: false, reason: health.reason ?? "redis unavailable", detail: health.shards };
    return { ready: true };
  };

  const publish = createPublishEndpoint({
    config: config.publish,
    gatewayId: config.gatewayId,
    deliver: createPublishDelivery({ bus, io: () => io, config }),
    registry: metrics.registry,
    log,
  });
  const consoleAssets = loadConsoleAssets(log);
  const routes = createHttpRoutes({ gatewayId: config.gatewayId, readiness, registry: metrics.registry, publish, consoleAssets });
  let engine: LeanEngine | undefined;
  const http = createServer((req, res) => {
    if (engine?.handles(req.url)) return engine.handleRequest(req, res);
    void routes(req, res);
  });

  function openSocketIo(): Server {
    const adapter = createBusAdapter(
      bus,
      config.redis.publishTimeoutMs,
      ({ ok, seconds }) => metrics.publishSeconds.observe({ outcome: ok ? "ok" : "failed" }, seconds),
      { channels: (delta) => (subscribedChannels += delta), broadcastReceived: recordDelivery },
    );
    let server: Server;
    if (config.engine === "lean") {
      server = new Server({ serveClient: false, adapter });
      engine = new LeanEngine({
        path: "/socket.io/",
        pingIntervalMs: config.pingIntervalMs,
        pingTimeoutMs: config.pingTimeoutMs,
        maxPayload: config.maxFrameBytes,
        maxBufferedBytes: config.maxBufferedBytes,
      });
      engine.on("slow_client", () => metrics.slowClientsCut.inc());
      engine.attach(server);
      http.on("upgrade", (req, socket, head) => {
        if (engine!.handles(req.url)) engine!.handleUpgrade(req, socket, head);
        else socket.destroy();
      });
    } else {
      server = new Server(http, {
        // WebSocket only: with no long-polling, every request of a session is
        // one TCP connection, so the NLB needs no stickiness.
        transports: ["websocket"],
        pingInterval: config.pingIntervalMs,
        pingTimeout: config.pingTimeoutMs,
        maxHttpBufferSize: config.maxFrameBytes,
        perMessageDeflate: false,
        serveClient: false,
        adapter,
      });
    }
    const rateLimit = createEventRateLimit(config.limits, { metrics, log });
    const served = new Set<string>(config.namespaces);
    const dashboard = served.has(NAMESPACE.dashboard) ? server.of(NAMESPACE.dashboard) : undefined;
    if (served.has(NAMESPACE.calls)) {
      serveCalls(server.of(NAMESPACE.calls), {
        gatewayId: config.gatewayId,
        maxEventDataBytes: config.maxEventDataBytes,
        maxEventDataDepth: config.limits.maxEventDataDepth,
        receiptTimeoutMs: config.receiptTimeoutMs,
        dashboard,
        metrics,
        log,
        rateLimit,
      });
    }
    if (dashboard) serveDashboard(dashboard, { metrics, log, rateLimit });
    if (dashboard) {
      fleet = serveFleet(server, dashboard, {
        gatewayId: config.gatewayId,
        shards: shardChannels,
        namespaces: [...served],
        isDraining: () => draining,
        metrics,
        log,
        rateLimit,
      });
    }
    admission = createAdmission({ config, bus, metrics, log });
    admission.install(server, [...served].map((name) => server.of(name)));
    for (const name of served) {
      const nsp = server.of(name);
      nsp.on("connection", (socket) => {
        metrics.connectionsAccepted.inc({ namespace: name });
        socket.emit("server:hello", { gateway: config.gatewayId });
      });
    }
    return server;
  }

  return {
    config,
    http,
    bus,
    metrics,
    get io() {
      return io;
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(config.port, config.host, () => {
          http.off("error", reject);
          resolve();
        });
      });
      log.info("listening", { port: config.port, namespaces: config.namespaces });
      await bus.connect();
      io = openSocketIo();
      shardChannels.start();
      cloudwatch.start();
      log.info("accepting connections");
    },
    markDraining() {
      draining = true;
    },
    readiness,
    async close() {
      draining = true;
      shardChannels.stop();
      cloudwatch.stop();
      figures.stop();
      fleet?.stop();
      if (io) {
        // io.close() disconnects every socket, closes the adapters (which
        // unsubscribe their channels) and the HTTP server.
        await new Promise<void>((resolve) => io!.close(() => resolve()));
        await admission?.close();
      }
      if (http.listening) {
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }
      await bus.close();
    },
    address: () => http.address() as AddressInfo,
  };
}
