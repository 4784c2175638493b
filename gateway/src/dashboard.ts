/**
 * Namespace /dashboard: managers watch calls. A watcher sits in room
 * `call:<tenant>:<id>` of this namespace and receives every `call:event` relayed in
 * /calls for that call, from any gateway. Watchers only listen.
 */
import type { Namespace } from "socket.io";
import { enterCallRoom, leaveCallRoom } from "./call-membership.js";
import { attachClientEvents, routeClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import type { EventRateLimit } from "./event-rate.js";
import { CLIENT_EVENT } from "./protocol.js";

export function serveDashboard(dashboard: Namespace, deps: { metrics: GatewayMetrics; log: Logger; rateLimit?: EventRateLimit }): void {
  routeClientEvent(dashboard, CLIENT_EVENT.watch, (socket, payload) => enterCallRoom(socket, payload, "watch"), deps);
  routeClientEvent(dashboard, CLIENT_EVENT.unwatch, leaveCallRoom, deps);
  dashboard.on("connection", attachClientEvents);
}
