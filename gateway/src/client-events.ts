/**
 * Binds client events to handlers so that nothing a client sends can throw:
 * a handler returns an Ack; it is sent when the client asked for one, and a
 * refusal without an ack callback is counted as dropped instead.
 *
 * The listener attached to each socket is one shared function per event
 * (it finds the socket as `this` and the handler on the namespace), not a
 * closure per socket: at tens of thousands of sockets per process, three
 * closures and their contexts per socket are a measurable part of the heap.
 */
import type { Namespace, Socket } from "socket.io";
import type { Ack } from "./protocol.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import type { EventRateLimit } from "./event-rate.js";

export type EventHandler = (socket: Socket, payload: unknown) => Ack | Promise<Ack>;

interface Deps {
  metrics: GatewayMetrics;
  log: Logger;
  /** Per-connection event budget; refused events are dropped with a `rate_limited` ack. */
  rateLimit?: EventRateLimit;
}

const ROUTES = Symbol("clientEventRoutes");
type RoutedNamespace = Namespace & { [ROUTES]?: Map<string, { handler: EventHandler; deps: Deps; listener: (...args: unknown[]) => void }> };

/** Declares, once per namespace, how `event` is handled; `attachClientEvents` wires it to each socket. */
export function routeClientEvent(nsp: Namespace, event: string, handler: EventHandler, deps: Deps): void {
  const routed = nsp as RoutedNamespace;
  const routes = (routed[ROUTES] ??= new Map());
  routes.set(event, { handler, deps, listener: sharedListener(event) });
}

/** Attaches the namespace's shared listeners to a new socket. */
export function attachClientEvents(socket: Socket): void {
  const routes = (socket.nsp as RoutedNamespace)[ROUTES];
  if (!routes) return;
  for (const [event, route] of routes) socket.on(event, route.listener);
}

function sharedListener(event: string) {
  return async function (this: Socket, ...args: unknown[]): Promise<void> {
    const socket = this;
    const route = (socket.nsp as RoutedNamespace)[ROUTES]!.get(event)!;
    const { handler, deps } = route;
    const namespace = socket.nsp.name;
    const ack = typeof args[args.length - 1] === "function" ? (args.pop() as (a: Ack) => void) : undefined;
    deps.metrics.eventsReceived.inc({ namespace, event });
    let result: Ack;
    const limited = deps.rateLimit?.take(socket, event);
    try {
      result = limited ? { ok: false, error: limited } : await handler(socket, args[0]);
    } catch (err) {
      deps.log.error("handler failed", { namespace, event, socket: socket.id, error: err as Error });
      result = { ok: false, error: { code: "internal", message: "the gateway failed to handle this event" } };
    }
    if (!result.ok) deps.metrics.eventsDropped.inc({ namespace, event, code: result.error.code });
    if (ack) ack(result);
  };
}
