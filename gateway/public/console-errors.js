/**
 * What each error code means to the person at the console, and what to do.
 * Codes come from connect_error `err.data.code` (the gateway refused the
 * connection) and from `{ ok: false, error: { code, message } }` acks; the
 * gateway's own message is shown beside this text. The gateway's ack codes
 * are in gateway/src/protocol.ts ERROR_CODE; a test checks this table covers
 * every one of them.
 */
export const ERROR_TEXT = {
  // Refusals of the connection (authentication and admission).
  auth_missing: "This gateway requires a token. Paste one in Token (npm run token prints a development token) and connect again.",
  auth_invalid: "The gateway rejected the token (bad signature, issuer, audience or format). Mint a new one with npm run token.",
  auth_expired: "The token has expired. Mint a new one with npm run token and connect again.",
  rate_limited: "Too many attempts from this client: the gateway is slowing it down. Wait a few seconds, then retry.",
  too_many_connections: "The gateway is at its connection limit. Retry shortly; the balancer may send you to another gateway.",
  forbidden: "The token does not allow this (another tenant, or a role without this right).",
  // Acks (gateway/src/protocol.ts ERROR_CODE).
  invalid_payload: "The gateway could not read this request: it expected an object with the listed fields.",
  invalid_call_id: "Invalid call id: use 1 to 64 characters of A–Z, a–z, 0–9, _ and -.",
  invalid_event_type: "Invalid event type: use 1 to 64 characters of A–Z, a–z, 0–9, _ . : and -.",
  invalid_data: "The event's data cannot be sent as JSON.",
  data_too_large: "The event's data is larger than this gateway accepts (MAX_EVENT_DATA_BYTES).",
  not_in_call: "Join the call before sending to it.",
  publish_failed: "Redis did not confirm the event: members on other gateways may not have it. Send it again.",
  draining: "This gateway is shutting down; the page reconnects to another one.",
  internal: "The gateway failed to handle this request; its logs say why.",
  // Found by the page itself.
  timeout: "No answer from the gateway in time; the connection may be down.",
  unreachable: "Cannot reach a gateway: the page keeps trying. Is npm run local (or the stack) running?",
  invalid_namespace: "This gateway does not serve that namespace (see its NAMESPACES setting).",
  not_connected: "Not connected: connect first.",
  auth_unavailable: "The gateway cannot fetch its identity provider's keys right now. Retry in a moment.",
  origin_forbidden: "This page's origin is not in the gateway's ALLOWED_ORIGINS.",
  unavailable: "The gateway cannot check the connection limit right now (Redis unreachable). Retry shortly.",
  namespace_not_served: "The gateway serves /calls and /dashboard only.",
  data_too_deep: "The event's data nests objects or arrays deeper than the gateway accepts (MAX_EVENT_DATA_DEPTH).",
  invalid_room: "Invalid room: use call:<id> or call:<tenant>:<id>.",
  invalid_event: "Invalid event name.",
  invalid_body: "The publish request body is not what the endpoint expects.",
  body_too_large: "The publish request body is larger than PUBLISH_MAX_BYTES.",
  unauthorized: "The publish endpoint needs a valid service credential.",
  publishing_disabled: "Publishing over HTTP is off on this gateway (PUBLISH_SECRET is not set).",
};

/** `{ code, text, detail }` for an error code and the gateway's message. */
export function describeError(code, detail) {
  const known = Object.prototype.hasOwnProperty.call(ERROR_TEXT, code);
  return {
    code: known ? code : String(code || "unknown"),
    text: known ? ERROR_TEXT[code] : "Unexpected error from the gateway.",
    detail: detail ? String(detail) : "",
  };
}

/**
 * A connect_error as `{ code, detail }`: the gateway's `err.data` when it
 * refused us, else what the client library saw (the gateway is unreachable).
 */
export function connectErrorCode(err) {
  const data = err && err.data;
  if (data && typeof data === "object" && typeof data.code === "string") {
    return { code: data.code, detail: typeof data.message === "string" ? data.message : err.message };
  }
  if (err && err.message === "Invalid namespace") return { code: "invalid_namespace", detail: err.message };
  return { code: "unreachable", detail: (err && err.message) || "connection failed" };
}
