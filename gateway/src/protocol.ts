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

/**
 * A tenant id, from the token's tenant claim: same alphabet as a call id, so
 * the `:` separating it from the call id in a room name cannot be forged and
 * no tenant can pick a Redis hash tag.
 */
export const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The room of a call, scoped by tenant: `call:<tenant>:<callId>`. The tenant
 * always comes from the verified token, never from the client's payload, so
 * a client can only ever name rooms of its own tenant.
 */
export function callRoom(tenant: string, callId: string): string {
  return `call:${tenant}:${callId}`;
}

/**
 * A full room name as services address it: `call:<id>`, or with a tenant
 * `call:<tenant>:<id>` (tenant and id are both [A-Za-z0-9_-]{1,64}). No
 * braces, for the same hash-tag reason as CALL_ID_PATTERN.
 */
export const ROOM_PATTERN = /^call:(?:([A-Za-z0-9_-]{1,64}):)?([A-Za-z0-9_-]{1,64})$/;

/** The parts of a room name, or undefined when it does not match ROOM_PATTERN. */
export function parseRoom(room: string): { tenant?: string; callId: string } | undefined {
  const m = ROOM_PATTERN.exec(room);
  if (!m) return undefined;
  return m[1] === undefined ? { callId: m[2] } : { tenant: m[1], callId: m[2] };
}

/** `from` of an event a backend service published (HTTP endpoint or emitter): `service:<name>`. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export function serviceSender(name: string): string {
  return `service:${name}`;
}

/** Where backend services publish over HTTP (gateway/src/publish-endpoint.ts). */
export const PUBLISH_PATH = "/v1/publish";

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
  // Publishing by backend services (HTTP endpoint and emitter).
  invalidNamespace: "invalid_namespace",
  invalidRoom: "invalid_room",
  invalidEvent: "invalid_event",
  invalidBody: "invalid_body",
  bodyTooLarge: "body_too_large",
  unauthorized: "unauthorized",
  publishingDisabled: "publishing_disabled",
  /** The room policy refused this join/watch. */
  forbidden: "forbidden",
  /** More events than EVENT_RATE_PER_SECOND/EVENT_BURST allow: this one was dropped. */
  rateLimited: "rate_limited",
  /** A call:event's data nests deeper than MAX_EVENT_DATA_DEPTH. */
  dataTooDeep: "data_too_deep",
} as const;

/**
 * Codes in `connect_error`'s `err.data.code` when the gateway refuses a
 * connection (the handshake of one namespace). `err.data.message` says why.
 */
export const CONNECT_ERROR_CODE = {
  /** No `auth.token` in the handshake. */
  authMissing: "auth_missing",
  /** The token is malformed, badly signed, for another issuer/audience, or lacks `sub`/tenant. */
  authInvalid: "auth_invalid",
  /** The token's `exp` has passed (beyond the clock tolerance): get a new one. */
  authExpired: "auth_expired",
  /** The identity provider's keys could not be fetched: retry later. */
  authUnavailable: "auth_unavailable",
  /** Too many new connections from this IP: back off. */
  rateLimited: "rate_limited",
  /** This user already holds MAX_CONNECTIONS_PER_USER connections across the fleet. */
  tooManyConnections: "too_many_connections",
  /** The browser's Origin is not in ALLOWED_ORIGINS. */
  originForbidden: "origin_forbidden",
  /** The connection limit could not be checked (Redis unreachable, CONNECTION_LIMIT_ON_REDIS_ERROR=closed). */
  unavailable: "unavailable",
  /** A namespace the gateway does not serve (e.g. the main namespace `/`). */
  namespaceNotServed: "namespace_not_served",
} as const;
export type ConnectErrorCode = (typeof CONNECT_ERROR_CODE)[keyof typeof CONNECT_ERROR_CODE];
/** `err.data` of a refused connection's `connect_error`. */
export interface ConnectErrorData {
  code: ConnectErrorCode;
  message: string;
}
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
 * The fleet feed in /dashboard: every gateway publishes its status to the
 * `fleet` room every few seconds; a dashboard client joins that room with
 * `fleet:watch` and leaves it with `fleet:unwatch`.
 */
export const FLEET = {
  room: "fleet",
  watch: "fleet:watch",
  unwatch: "fleet:unwatch",
  status: "fleet:status",
} as const;

/** One shard's sharded pub/sub channels, as its primary reports them; `channels` is null when the primary did not answer. */
export interface ShardChannels {
  node: string;
  channels: number | null;
  error?: string;
}

/** What one gateway publishes to the fleet room. */
export interface FleetStatus {
  gateway: string;
  /** Connected sockets by namespace. */
  connections: Record<string, number>;
  /** Only while this gateway has fleet watchers of its own, see fleet-status.ts. */
  shards: ShardChannels[];
  /** True once the gateway is draining (SIGTERM received). */
  draining: boolean;
  ts: number;
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
