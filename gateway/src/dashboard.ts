/**
 * Namespace /dashboard: managers watch calls. A watcher sits in room
 * `call:<id>` of this namespace and receives every `call:event` relayed in
 * /calls for that call, from any gateway. Watchers only listen.
 */
import type { Namespace, Socket } from "socket.io";
import { roomSubscribed } from "./adapter.js";
import { onClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import { CLIENT_EVENT, callRoom, type Ack } from "./protocol.js";
import { checkCallRef } from "./validation.js";

export function serveDashboard(dashboard: Namespace, deps: { metrics: GatewayMetrics; log: Logger }): void {
  dashboard.on("connection", (socket: Socket) => {
    onClientEvent(socket, CLIENT_EVENT.watch, (payload) => watch(socket, payload), deps);
    onClientEvent(socket, CLIENT_EVENT.unwatch, (payload) => unwatch(socket, payload), deps);
  });
}

async function watch(socket: Socket, payload: unknown): Promise<Ack<{ room: string }>> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  const room = callRoom(ref.value.callId);
  await socket.join(room);
  await roomSubscribed(socket.nsp, room);
  return { ok: true, room };
}

async function unwatch(socket: Socket, payload: unknown): Promise<Ack> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  await socket.leave(callRoom(ref.value.callId));
  return { ok: true };
}
