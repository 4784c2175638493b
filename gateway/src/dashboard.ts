/**
 * Namespace /dashboard: managers watch calls. A watcher sits in room
 * `call:<id>` of this namespace and receives every `call:event` relayed in
 * /calls for that call, from any gateway. Watchers only listen.
 */
import type { Namespace, Socket } from "socket.io";
import { attachClientEvents, routeClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import { CLIENT_EVENT, callRoom, type Ack } from "./protocol.js";
import { checkCallRef } from "./validation.js";

export function serveDashboard(dashboard: Namespace, deps: { metrics: GatewayMetrics; log: Logger }): void {
  routeClientEvent(dashboard, CLIENT_EVENT.watch, watch, deps);
  routeClientEvent(dashboard, CLIENT_EVENT.unwatch, unwatch, deps);
  dashboard.on("connection", attachClientEvents);
}

async function watch(socket: Socket, payload: unknown): Promise<Ack<{ room: string }>> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  const room = callRoom(ref.value.callId);
  await socket.join(room);
  return { ok: true, room };
}

async function unwatch(socket: Socket, payload: unknown): Promise<Ack> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  await socket.leave(callRoom(ref.value.callId));
  return { ok: true };
}
