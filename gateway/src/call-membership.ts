/**
 * Entering and leaving a call's room, the same for a member joining in /calls
 * and a manager watching in /dashboard: validate the `{ callId }`, ask the
 * room policy, join, and ack only once this gateway hears the room's channel
 * (see roomReady in adapter.ts).
 */
import type { Socket } from "socket.io";
import { roomReady } from "./adapter.js";
import type { Ack } from "./protocol.js";
import { authorizeRoom, roomOf, type RoomAction } from "./room-policy.js";
import { checkCallRef } from "./validation.js";

export async function enterCallRoom(socket: Socket, payload: unknown, action: RoomAction): Promise<Ack<{ room: string }>> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  const allowed = await authorizeRoom(socket, { action, callId: ref.value.callId });
  if (!allowed.ok) return allowed;
  await socket.join(allowed.room);
  await roomReady(socket.nsp, allowed.room);
  return { ok: true, room: allowed.room };
}

export async function leaveCallRoom(socket: Socket, payload: unknown): Promise<Ack> {
  const ref = checkCallRef(payload);
  if (!ref.ok) return ref;
  await socket.leave(roomOf(socket, ref.value.callId));
  return { ok: true };
}
