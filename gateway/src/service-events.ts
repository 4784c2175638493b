/**
 * What a backend service's event looks like to clients: the same
 * `call:event` a member's relay produces (RelayedCallEvent), with `from` set
 * to `service:<name>`. Clients handle one event shape whoever sent it; the
 * HTTP endpoint builds it here, and emitter users call it too.
 */
import { parseRoom, serviceSender, type RelayedCallEvent } from "./protocol.js";

export function serviceCallEvent(o: {
  /** A full room name (ROOM_PATTERN); callId is its last part. */
  room: string;
  /** The event type, e.g. `status` or `transcript` (EVENT_TYPE_PATTERN). */
  type: string;
  data: unknown;
  /** The publishing service's name (SERVICE_NAME_PATTERN). */
  service: string;
  /** Who put it on the bus: a gateway id for the HTTP endpoint, the service's own name otherwise. */
  via?: string;
}): RelayedCallEvent {
  const parsed = parseRoom(o.room);
  if (!parsed) throw new TypeError(`not a call room: ${JSON.stringify(o.room)}`);
  return {
    callId: parsed.callId,
    type: o.type,
    data: o.data === undefined ? null : o.data,
    from: serviceSender(o.service),
    ts: Date.now(),
    via: o.via ?? serviceSender(o.service),
  };
}
