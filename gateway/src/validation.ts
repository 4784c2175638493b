/**
 * Checks for everything a client sends. Each check returns the cleaned value
 * or an AckError with a stable code; none throws, so no client input can
 * reach an exception path.
 */
import {
  ALL_NAMESPACES,
  CALL_ID_PATTERN,
  CALL_ID_MAX_LENGTH,
  ERROR_CODE,
  EVENT_TYPE_PATTERN,
  ROOM_PATTERN,
  type AckError,
  type NamespaceName,
} from "./protocol.js";

export type Checked<T> = { ok: true; value: T } | { ok: false; error: AckError };

const fail = (code: string, message: string): { ok: false; error: AckError } => ({ ok: false, error: { code, message } });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

export function checkCallId(value: unknown): Checked<string> {
  if (typeof value !== "string") {
    return fail(ERROR_CODE.invalidCallId, `callId must be a string, got ${describe(value)}`);
  }
  if (!CALL_ID_PATTERN.test(value)) {
    const shown = value.length > CALL_ID_MAX_LENGTH ? `${value.length} characters` : JSON.stringify(value);
    return fail(ERROR_CODE.invalidCallId, `callId must be 1-${CALL_ID_MAX_LENGTH} characters of [A-Za-z0-9_-], got ${shown}`);
  }
  return { ok: true, value };
}

/** `{ callId }`, the payload of join, leave, watch and unwatch. */
export function checkCallRef(payload: unknown): Checked<{ callId: string }> {
  if (!isPlainObject(payload)) {
    return fail(ERROR_CODE.invalidPayload, `expected an object { callId }, got ${describe(payload)}`);
  }
  const callId = checkCallId(payload.callId);
  return callId.ok ? { ok: true, value: { callId: callId.value } } : callId;
}

export interface CallEventInput {
  callId: string;
  type: string;
  data: unknown;
  /** Ask members to acknowledge (`receipts: true`); anything else means no. */
  receipts: boolean;
}

/** `{ callId, type, data }`: `data` must be JSON-serialisable and within the size cap. */
export function checkCallEvent(payload: unknown, maxDataBytes: number, maxDataDepth = 8): Checked<CallEventInput> {
  if (!isPlainObject(payload)) {
    return fail(ERROR_CODE.invalidPayload, `expected an object { callId, type, data }, got ${describe(payload)}`);
  }
  const callId = checkCallId(payload.callId);
  if (!callId.ok) return callId;
  const type = payload.type;
  if (typeof type !== "string" || !EVENT_TYPE_PATTERN.test(type)) {
    return fail(ERROR_CODE.invalidEventType, `type must be 1-64 characters of [A-Za-z0-9_.:-], got ${describe(type)}`);
  }
  const data = payload.data === undefined ? null : payload.data;
  // Before stringifying: a deeply nested value costs stack and time in every
  // JSON.stringify/parse along its way, on every gateway it reaches.
  if (depthExceeds(data, maxDataDepth)) {
    return fail(ERROR_CODE.dataTooDeep, `data nests objects/arrays more than ${maxDataDepth} levels deep`);
  }
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(data) ?? "null");
  } catch {
    return fail(ERROR_CODE.invalidData, "data must be JSON-serialisable");
  }
  if (size > maxDataBytes) {
    return fail(ERROR_CODE.dataTooLarge, `data is ${size} bytes of JSON, the limit is ${maxDataBytes}`);
  }
  return { ok: true, value: { callId: callId.value, type, data, receipts: payload.receipts === true } };
}

/** A full room name, `call:<id>` or `call:<tenant>:<id>` (ROOM_PATTERN). */
export function checkRoom(value: unknown): Checked<string> {
  if (typeof value !== "string" || !ROOM_PATTERN.test(value)) {
    return fail(
      ERROR_CODE.invalidRoom,
      `room must be call:<id> or call:<tenant>:<id>, each part 1-64 characters of [A-Za-z0-9_-], got ${describe(value)}`,
    );
  }
  return { ok: true, value };
}

/** One of the namespaces the fleet serves. */
export function checkNamespace(value: unknown): Checked<NamespaceName> {
  if (typeof value !== "string" || !(ALL_NAMESPACES as readonly string[]).includes(value)) {
    return fail(ERROR_CODE.invalidNamespace, `namespace must be one of ${ALL_NAMESPACES.join(", ")}, got ${describe(value)}`);
  }
  return { ok: true, value: value as NamespaceName };
}

/** True when `value` nests objects or arrays deeper than `max` levels; iterative, so any depth is safe to check. */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null || Buffer.isBuffer(v)) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A short description of a bad value for an error message, never the whole value. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (Buffer.isBuffer(value)) return "binary data";
  if (typeof value === "string") return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`.slice(0, 60);
}
