/**
 * Who may enter which call. THE one place to change authorization: replace
 * `roomPolicy` below (roles from the token's claims, a lookup in your own
 * service...). Whatever the policy says, the room a socket enters is built
 * from its verified tenant (`callRoom(identity.tenant, callId)`), so no
 * policy mistake can let a user of tenant A into a room of tenant B.
 */
import type { Socket } from "socket.io";
import { identityOf, type Identity } from "./identity.js";
import { ERROR_CODE, callRoom, type AckError } from "./protocol.js";

export type RoomAction = "join" | "watch";

export interface RoomRequest {
  action: RoomAction;
  /** Already validated against CALL_ID_PATTERN. */
  callId: string;
}

/** Returns true to let the socket in; may be async (e.g. ask a calls service). */
export type RoomPolicy = (identity: Identity, request: RoomRequest) => boolean | Promise<boolean>;

/** Any user of a tenant may join or watch any call of that tenant, and only of that tenant (by the room's name). */
export const sameTenantOnly: RoomPolicy = () => true;

/** Example of a stricter policy: only tokens with `role: "manager"` may watch. */
export const managersWatch: RoomPolicy = (identity, request) =>
  request.action !== "watch" || identity.claims.role === "manager";

export const roomPolicy: RoomPolicy = sameTenantOnly;

/** The socket's room for `callId`, always inside its own tenant. */
export function roomOf(socket: Socket, callId: string): string {
  return callRoom(identityOf(socket).tenant, callId);
}

export type RoomDecision = { ok: true; room: string } | { ok: false; error: AckError };

/** The room a socket enters, or a `forbidden` refusal. */
export function authorizeRoom(socket: Socket, request: RoomRequest): Promise<RoomDecision> {
  return decideRoom(identityOf(socket), request, roomPolicy);
}

/** The decision itself, for any identity and policy. */
export async function decideRoom(identity: Identity, request: RoomRequest, policy: RoomPolicy): Promise<RoomDecision> {
  if (!(await policy(identity, request))) {
    return { ok: false, error: { code: ERROR_CODE.forbidden, message: `you may not ${request.action} call ${request.callId}` } };
  }
  return { ok: true, room: callRoom(identity.tenant, request.callId) };
}
