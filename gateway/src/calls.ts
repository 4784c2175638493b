/**
 * Namespace /calls: agents and callers join `call:<tenant>:<id>` rooms and relay
 * `call:event`s to every other member, on every gateway, through the bus.
 * Each relayed event is also delivered to the call's watchers in /dashboard.
 */
import type { Namespace, Socket } from "socket.io";
import { emitConfirmed } from "./adapter.js";
import { attachClientEvents, routeClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import {
  CLIENT_EVENT,
  ERROR_CODE,
  SERVER_EVENT,
  type Ack,
  type RelayedCallEvent,
} from "./protocol.js";
import { authorizeRoom, roomOf } from "./room-policy.js";
import { checkCallEvent, checkCallRef } from "./validation.js";

export interface CallsDeps {
  gatewayId: string;
  maxEventDataBytes: number;
  /** Deepest nesting of a call:event's data (MAX_EVENT_DATA_DEPTH). */
  maxEventDataDepth?: number;
  /** The /dashboard namespace when this gateway serves it, so watchers see relayed events. */
  dashboard: Namespace | undefined;
  metrics: GatewayMetrics;
  log: Logger;
}

export function serveCalls(calls: Namespace, deps: CallsDeps): void {
  routeClientEvent(calls, CLIENT_EVENT.join, join, deps);
  routeClientEvent(calls, CLIENT_EVENT.leave, leave, deps);
  routeClientEvent(calls, CLIENT_EVENT.callEvent, (socket, payload) => relay(calls, socket, payload, deps), deps);
  calls.on("connection", attachClientEvents);
}

async function join(socket: Socket, payload: unknown): Promise<Ack<{ room: string }>> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  const allowed = await authorizeRoom(socket, { action: "join", callId: ref.value.callId });
  if (!allowed.ok) return allowed;
  await socket.join(allowed.room);
  return { ok: true, room: allowed.room };
}

async function leave(socket: Socket, payload: unknown): Promise<Ack> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  await socket.leave(roomOf(socket, ref.value.callId));
  return { ok: true };
}

async function relay(calls: Namespace, socket: Socket, payload: unknown, deps: CallsDeps): Promise<Ack> {
  const input = checkCallEvent(payload, deps.maxEventDataBytes, deps.maxEventDataDepth);
  if (!input.ok) return input;
  const room = roomOf(socket, input.value.callId);
  if (!socket.rooms.has(room)) {
    return { ok: false, error: { code: ERROR_CODE.notInCall, message: `join ${room} before sending to it` } };
  }
  const event: RelayedCallEvent = { ...input.value, from: socket.id, ts: Date.now(), via: deps.gatewayId };
  const deliveries = [emitConfirmed(calls, () => socket.to(room).emit(SERVER_EVENT.callEvent, event))];
  const dashboard = deps.dashboard;
  if (dashboard) deliveries.push(emitConfirmed(dashboard, () => dashboard.to(room).emit(SERVER_EVENT.callEvent, event)));
  const outcomes = await Promise.allSettled(deliveries);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  deps.metrics.broadcastsPublished.inc({ namespace: calls.name, outcome: failed ? "failed" : "ok" }, deliveries.length);
  if (failed) {
    deps.log.warn("publish failed", { room, error: failed.reason as Error });
    return {
      ok: false,
      error: {
        code: ERROR_CODE.publishFailed,
        message: "the event reached members on this gateway only: the bus did not acknowledge it; retry",
      },
    };
  }
  return { ok: true };
}
