/**
 * Namespace /dashboard: managers watch calls. A watcher sits in room
 * `call:<tenant>:<id>` of this namespace and receives every `call:event` relayed in
 * /calls for that call, from any gateway. Watchers only listen.
 */
import type { Namespace, Socket } from "socket.io";
import { roomReady } from "./adapter.js";
import { attachClientEvents, routeClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import type { EventRateLimit } from "./event-rate.js";
import { CLIENT_EVENT, type Ack } from "./protocol.js";
import { authorizeRoom, roomOf } from "./room-policy.js";
import { checkCallRef } from "./validation.js";

export function serveDashboard(dashboard: Namespace, deps: { metrics: GatewayMetrics; log: Logger; rateLimit?: EventRateLimit }): void {
  routeClientEvent(dashboard, CLIENT_EVENT.watch, watch, deps);
  routeClientEvent(dashboard, CLIENT_EVENT.unwatch, unwatch, deps);
  dashboard.on("connection", attachClientEvents);
}

async function watch(socket: Socket, payload: unknown): Promise<Ack<{ room: string }>> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  const allowed = await authorizeRoom(socket, { action: "watch", callId: ref.value.callId });
  if (!allowed.ok) return allowed;
  await socket.join(allowed.room);
  // Ack only once this gateway hears the room: see roomReady.
  await roomReady(socket.nsp, allowed.room);
  return { ok: true, room: allowed.room };
}

async function unwatch(socket: Socket, payload: unknown): Promise<Ack> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  await socket.leave(roomOf(socket, ref.value.callId));
  return { ok: true };
}
