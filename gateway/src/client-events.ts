/**
 * Binds a client event to a handler so that nothing a client sends can throw:
 * the handler returns an Ack; it is sent when the client asked for one, and a
 * refusal without an ack callback is counted as dropped instead.
 */
import type { Socket } from "socket.io";
import type { Ack } from "./protocol.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";

export type EventHandler = (payload: unknown) => Ack | Promise<Ack>;

export function onClientEvent(
  socket: Socket,
  event: string,
  handler: EventHandler,
  deps: { metrics: GatewayMetrics; log: Logger },
): void {
  const namespace = socket.nsp.name;
  socket.on(event, async (...args: unknown[]) => {
    const ack = typeof args[args.length - 1] === "function" ? (args.pop() as (a: Ack) => void) : undefined;
    deps.metrics.eventsReceived.inc({ namespace, event });
    let result: Ack;
    try {
      result = await handler(args[0]);
    } catch (err) {
      deps.log.error("handler failed", { namespace, event, socket: socket.id, error: err as Error });
      result = { ok: false, error: { code: "internal", message: "the gateway failed to handle this event" } };
    }
    if (!result.ok) deps.metrics.eventsDropped.inc({ namespace, event, code: result.error.code });
    if (ack) ack(result);
  });
}
