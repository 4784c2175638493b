/**
 * The wire protocol between clients and gateways: namespaces, event names,
 * room names and error codes. The gateway, the client helper and the tests
 * import these constants so a rename cannot drift between them.
 */

export const NAMESPACE = {
  calls: "/calls",
  dashboard: "/dashboard",
} as const;
export type NamespaceName = (typeof NAMESPACE)[keyof typeof NAMESPACE];
export const ALL_NAMESPACES: readonly NamespaceName[] = [NAMESPACE.calls, NAMESPACE.dashboard];

/** Events a client sends. */
export const CLIENT_EVENT = {
  join: "join",
  leave: "leave",
  callEvent: "call:event",
  watch: "watch",
  unwatch: "unwatch",
} as const;

/** Events the gateway sends. */
export const SERVER_EVENT = {
  callEvent: "call:event",
  draining: "server:draining",
} as const;

/**
 * A call id is 1 to 64 characters of [A-Za-z0-9_-]. Braces are excluded on
 * purpose: Redis Cluster hashes only the part of a channel name inside `{}`,
 * so a client choosing `{x}` ids could pin every room's channel to one shard.
 */
export const CALL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const CALL_ID_MAX_LENGTH = 64;

/** An event type is a short label such as `transcript` or `status`. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function callRoom(callId: string): string {
  return `call:${callId}`;
}

/** Stable error codes carried in `{ ok: false, error: { code, message } }` acks. */
export const ERROR_CODE = {
  invalidPayload: "invalid_payload",
  invalidCallId: "invalid_call_id",
  invalidEventType: "invalid_event_type",
  invalidData: "invalid_data",
  dataTooLarge: "data_too_large",
  notInCall: "not_in_call",
  publishFailed: "publish_failed",
  draining: "draining",
} as const;
export type ErrorCode = (typeof ERROR_CODE)[keyof typeof ERROR_CODE];

export interface AckError {
  code: ErrorCode | string;
  message: string;
}
export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: AckError };

/** What a member of a call receives for each relayed `call:event`. */
export interface RelayedCallEvent {
  callId: string;
  type: string;
  data: unknown;
  /** The sender's socket id. */
  from: string;
  /** The relaying gateway's clock when it published, in ms since the epoch. */
  ts: number;
  /** The id of the gateway that relayed it (the sender's gateway). */
  via: string;
}

/**
 * What a client receives (`server:draining`) just before its gateway closes
 * the connection for a deploy or scale-in. Reconnecting after
 * `reconnectAfterMs` (through the balancer, which now routes elsewhere)
 * spreads the reconnects of a draining gateway's clients over time.
 */
export interface ServerDraining {
  reason: string;
  reconnectAfterMs: number;
}

/**
 * A `call:event` sent with `receipts: true` is relayed with an
 * acknowledgement request: each member's client acknowledges it, and the
 * sender's ack says how many did within RECEIPT_TIMEOUT_MS.
 */
export interface CallEventReceipts {
  /** Members that acknowledged the event in time (the sender excluded). */
  receipts: number;
}
