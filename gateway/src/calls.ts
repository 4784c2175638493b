/**
 * Namespace /calls: agents and callers join `call:<tenant>:<id>` rooms and relay
 * `call:event`s to every other member, on every gateway, through the bus.
 * Each relayed event is also delivered to the call's watchers in /dashboard.
 */
import type { Namespace, Socket } from "socket.io";
import { emitConfirmed } from "./adapter.js";
import { enterCallRoom, leaveCallRoom } from "./call-membership.js";
import { attachClientEvents, routeClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import type { EventRateLimit } from "./event-rate.js";
import {
  CLIENT_EVENT,
  ERROR_CODE,
  SERVER_EVENT,
  type Ack,
  type CallEventReceipts,
  type RelayedCallEvent,
} from "./protocol.js";
import { roomOf } from "./room-policy.js";
import { checkCallEvent } from "./validation.js";

export interface CallsDeps {
  gatewayId: string;
  maxEventDataBytes: number;
  /** Deepest nesting of a call:event's data (MAX_EVENT_DATA_DEPTH). */
  maxEventDataDepth?: number;
  /** How long a relay with receipts waits for members' acks. */
  receiptTimeoutMs?: number;
  /** The /dashboard namespace when this gateway serves it, so watchers see relayed events. */
  dashboard: Namespace | undefined;
  metrics: GatewayMetrics;
  log: Logger;
  rateLimit?: EventRateLimit;
}

export function serveCalls(calls: Namespace, deps: CallsDeps): void {
  routeClientEvent(calls, CLIENT_EVENT.join, (socket, payload) => enterCallRoom(socket, payload, "join"), deps);
  routeClientEvent(calls, CLIENT_EVENT.leave, leaveCallRoom, deps);
  routeClientEvent(calls, CLIENT_EVENT.callEvent, (socket, payload) => relay(calls, socket, payload, deps), deps);
  calls.on("connection", attachClientEvents);
}

async function relay(calls: Namespace, socket: Socket, payload: unknown, deps: CallsDeps): Promise<Ack<Partial<CallEventReceipts>>> {
  const input = checkCallEvent(payload, deps.maxEventDataBytes, deps.maxEventDataDepth);
  if (!input.ok) return input;
  const { receipts: wantsReceipts, ...fields } = input.value;
  const room = roomOf(socket, fields.callId);
  if (!socket.rooms.has(room)) {
    return { ok: false, error: { code: ERROR_CODE.notInCall, message: `join ${room} before sending to it` } };
  }
  const event: RelayedCallEvent = { ...fields, from: socket.id, ts: Date.now(), via: deps.gatewayId };
  let receipts: Promise<number> | undefined;
  const deliveries = [
    emitConfirmed(calls, () => {
      if (!wantsReceipts) return void socket.to(room).emit(SERVER_EVENT.callEvent, event);
      receipts = new Promise((resolve) =>
        socket
          .to(room)
          .timeout(deps.receiptTimeoutMs ?? 5000)
          // On timeout, responses holds the acks that did arrive.
          .emit(SERVER_EVENT.callEvent, event, (_err: Error | null, responses: unknown[]) => resolve(responses?.length ?? 0)),
      );
    }),
  ];
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
  if (receipts) return { ok: true, receipts: await receipts };
  return { ok: true };
}
