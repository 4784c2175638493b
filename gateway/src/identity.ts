/**
 * Who a connected socket is: the verified user id and tenant from its token,
 * set by the admission middleware on `socket.data.identity` before the
 * connection is accepted. Handlers read it with `identityOf(socket)`.
 */
import type { Socket } from "socket.io";

export interface Identity {
  /** The token's `sub`. */
  sub: string;
  /** The token's tenant claim (AUTH_TENANT_CLAIM); matches TENANT_PATTERN. */
  tenant: string;
  /** False only with AUTH_MODE=none. */
  authenticated: boolean;
  /** Every claim of the token, for a custom room policy (roles, scopes...). */
  claims: Record<string, unknown>;
}

/** The tenant every socket belongs to when AUTH_MODE=none. */
export const ANONYMOUS_TENANT = "public";

export function identityOf(socket: Socket): Identity {
  const identity = (socket.data as { identity?: Identity }).identity;
  // Admission sets it before "connection" fires; a socket without one is a
  // wiring bug, and refusing is the safe side.
  if (!identity) throw new Error(`socket ${socket.id} has no identity: admission middleware not installed`);
  return identity;
}

export function setIdentity(socket: Socket, identity: Identity): void {
  (socket.data as { identity?: Identity }).identity = identity;
}
