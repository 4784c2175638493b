/**
 * The fleet feed: every FLEET_STATUS_INTERVAL this gateway publishes its own
 * status (connections per namespace, draining or not) to the `fleet` room of
 * /dashboard, through the bus, so a dashboard client on any gateway sees
 * every gateway. Clients join with `fleet:watch`.
 *
 * Shard channel counts ride along only while this gateway has fleet watchers
 * of its own: the PUBSUB SHARDCHANNELS reply grows with the number of rooms
 * (see shard-channels.ts), and a hundred gateways asking every primary every
 * two seconds for nobody would load Redis for nothing. A watcher's page takes
 * the shard list from whichever gateway reported it last.
 */
import type { Namespace, Server, Socket } from "socket.io";
import { emitConfirmed, roomReady } from "./adapter.js";
import { routeClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import type { EventRateLimit } from "./event-rate.js";
import { FLEET, type Ack, type FleetStatus, type ShardChannels } from "./protocol.js";
import type { ShardChannelWatch } from "./shard-channels.js";

/**
 * Two seconds keeps the console live; a page drops a gateway silent for 10 s
 * (five missed reports), so one slow tick does not make a gateway vanish.
 */
export const FLEET_STATUS_INTERVAL_MS = 2000;

export interface FleetDeps {
  gatewayId: string;
  /** The shard poller /metrics reads too: one poll refreshes both. */
  shards: ShardChannelWatch;
  /** The namespaces this gateway serves, to count their sockets. */
  namespaces: readonly string[];
  isDraining(): boolean;
  metrics: GatewayMetrics;
  log: Logger;
  rateLimit?: EventRateLimit;
}

export interface FleetFeed {
  /** Builds this gateway's status now; shard counts by default only while it has fleet watchers. */
  status(withShards?: boolean): Promise<FleetStatus>;
  stop(): void;
}

export function serveFleet(io: Server, dashboard: Namespace, deps: FleetDeps): FleetFeed {
  // Attached to each socket by dashboard.ts, with the namespace's other events.
  routeClientEvent(dashboard, FLEET.watch, (socket) => watch(socket, status), deps);
  routeClientEvent(dashboard, FLEET.unwatch, (socket) => unwatch(socket), deps);

  const localWatchers = () => dashboard.adapter.rooms.get(FLEET.room)?.size ?? 0;

  async function status(withShards = localWatchers() > 0): Promise<FleetStatus> {
    const connections: Record<string, number> = {};
    for (const name of deps.namespaces) connections[name] = io.of(name).sockets.size;
    let shards: ShardChannels[] = [];
    if (withShards) shards = await deps.shards.refresh().then(() => deps.shards.last(), () => []);
    return { gateway: deps.gatewayId, connections, shards, draining: deps.isDraining(), ts: Date.now() };
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const s = await status();
      if (stopped) return;
      await emitConfirmed(dashboard, () => dashboard.to(FLEET.room).emit(FLEET.status, s));
    } catch (err) {
      // Redis away: the console shows this gateway as silent, which is the truth.
      deps.log.debug("fleet status not published", { error: (err as Error).message });
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void tick().finally(schedule), FLEET_STATUS_INTERVAL_MS);
    timer.unref();
  };
  schedule();

  return {
    status,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

async function watch(
  socket: Socket,
  status: FleetFeed["status"],
): Promise<Ack<{ room: string; intervalMs: number }>> {
  await socket.join(FLEET.room);
  await roomReady(socket.nsp, FLEET.room);
  // This gateway's own status at once, so the panel is not empty for a tick.
  // Without shard counts: a client repeating fleet:watch must not turn into
  // Redis queries.
  socket.emit(FLEET.status, await status(false));
  return { ok: true, room: FLEET.room, intervalMs: FLEET_STATUS_INTERVAL_MS };
}

async function unwatch(socket: Socket): Promise<Ack> {
  await socket.leave(FLEET.room);
  return { ok: true };
}
