/**
 * Cross-gateway delivery latency: the time from the `ts` the relaying gateway
 * stamps on a `call:event` to that event's arrival from the bus at another
 * gateway, measured on the receiving gateway before it hands the event to its
 * local members (so client and network-to-client time are not included).
 *
 * The two clocks are different machines' clocks: the figure includes their
 * skew. ECS tasks sync to the Amazon Time Sync Service (skew normally well
 * under 1 ms) and the tests run every gateway on one host, so the skew is
 * small next to the buckets; a negative difference (a receiver clock behind
 * the sender's) is recorded as 0.
 */
import { SERVER_EVENT, type RelayedCallEvent } from "./protocol.js";

export interface DeliverySink {
  (namespace: string, seconds: number): void;
}

/** An `AdapterObservers.broadcastReceived` that measures relayed call:events from other gateways. */
export function measureDelivery(gatewayId: string, record: DeliverySink, now: () => number = Date.now) {
  return (namespace: string, packet: unknown): void => {
    const data = (packet as { data?: unknown } | undefined)?.data;
    if (!Array.isArray(data) || data[0] !== SERVER_EVENT.callEvent) return;
    const event = data[1] as Partial<RelayedCallEvent> | undefined;
    if (typeof event?.ts !== "number" || !Number.isFinite(event.ts)) return;
    // The adapter already skips its own messages; `via` also skips another
    // namespace's adapter on this same gateway, which is not a cross-gateway hop.
    if (event.via === gatewayId) return;
    record(namespace, Math.max(0, now() - event.ts) / 1000);
  };
}
