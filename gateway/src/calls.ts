/**
 * Namespace /calls: agents and callers join `call:<id>` rooms and relay
 * `call:event`s to every other member, on every gateway, through the bus.
 * Each relayed event is also delivered to the call's watchers in /dashboard.
 */
import type { Namespace, Socket } from "socket.io";
import { emitConfirmed, roomSubscribed } from "./adapter.js";
import { onClientEvent } from "./client-events.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import {
  CLIENT_EVENT,
  ERROR_CODE,
  SERVER_EVENT,
  callRoom,
  type Ack,
  type CallEventReceipts,
  type RelayedCallEvent,
} from "./protocol.js";
import { checkCallEvent, checkCallRef } from "./validation.js";

export interface CallsDeps {
  gatewayId: string;
  maxEventDataBytes: number;
  /** How long a relay with receipts waits for members' acks. */
  receiptTimeoutMs?: number;
  /** The /dashboard namespace when this gateway serves it, so watchers see relayed events. */
  dashboard: Namespace | undefined;
  metrics: GatewayMetrics;
  log: Logger;
}

export function serveCalls(calls: Namespace, deps: CallsDeps): void {
  calls.on("connection", (socket: Socket) => {
    onClientEvent(socket, CLIENT_EVENT.join, (payload) => join(socket, payload), deps);
    onClientEvent(socket, CLIENT_EVENT.leave, (payload) => leave(socket, payload), deps);
    onClientEvent(socket, CLIENT_EVENT.callEvent, (payload) => relay(calls, socket, payload, deps), deps);
  });
}

async function join(socket: Socket, payload: unknown): Promise<Ack<{ room: string }>> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  const room = callRoom(ref.value.callId);
  await socket.join(room);
  await roomSubscribed(socket.nsp, room);
  return { ok: true, room };
}

async function leave(socket: Socket, payload: unknown): Promise<Ack> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  await socket.leave(callRoom(ref.value.callId));
  return { ok: true };
}

async function relay(calls: Namespace, socket: Socket, payload: unknown, deps: CallsDeps): Promise<Ack<Partial<CallEventReceipts>>> {
  const input = checkCallEvent(payload, deps.maxEventDataBytes);
  if (!input.ok) return input;
  const { receipts: wantsReceipts, ...fields } = input.value;
  const room = callRoom(fields.callId);
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
