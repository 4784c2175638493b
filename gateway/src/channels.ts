/**
 * The sharded adapter's wire rules, written down once: which sharded channel
 * a broadcast goes to and how its message is encoded. The gateway configures
 * its adapter from these constants and the emitter (emitter/index.ts) writes
 * with these functions, so both sides agree by construction.
 *
 * They restate @socket.io/redis-adapter 8.3 (dist/sharded-adapter.js:
 * computeChannel, dynamicChannel, encode) and socket.io-adapter 2.5
 * (dist/cluster-adapter.js: MessageType, encodeOptions). The adapter does not
 * export them, so test/emitter-channels.test.ts drives a real adapter over a
 * real Redis and compares what it SSUBSCRIBEs and SPUBLISHes with what these
 * functions produce: an upgrade that changes the format fails that test
 * instead of silently dropping every emitter message.
 */
import { encode as msgpack } from "notepack.io";

/** The adapter's default `channelPrefix`; the gateway passes it explicitly. */
export const CHANNEL_PREFIX = "socket.io";

/**
 * `dynamic`: one sharded channel per public room, so a room's traffic reaches
 * only the shard that owns that channel and only the gateways with members.
 */
export const SUBSCRIPTION_MODE = "dynamic" as const;

/** socket.io-adapter's MessageType.BROADCAST. */
export const MESSAGE_TYPE_BROADCAST = 3;

/** socket.io-parser's PacketType.EVENT (the parser turns it into BINARY_EVENT itself when needed). */
export const PACKET_TYPE_EVENT = 2;

/** The channel every gateway serving `nsp` subscribes to: `socket.io#/calls#`. */
export function namespaceChannel(nsp: string, prefix = CHANNEL_PREFIX): string {
  return `${prefix}#${nsp}#`;
}

/** The per-room channel of `dynamic` mode: `socket.io#/calls#call:abc#`. */
export function roomChannel(nsp: string, room: string, prefix = CHANNEL_PREFIX): string {
  return `${namespaceChannel(nsp, prefix)}${room}#`;
}

/**
 * The adapter treats any 20-character room as a socket id (the length of
 * Socket.IO's ids) and sends it over the namespace channel, even in dynamic
 * mode. `call:` plus a 15-character id is such a room.
 */
export function looksLikeASocketId(room: string): boolean {
  return room.length === 20;
}

/**
 * The channel a broadcast without ack is published to: the room's own
 * channel when it targets exactly one room that is not socket-id-like,
 * otherwise the namespace channel (several rooms, no room, or `except` only).
 */
export function broadcastChannel(nsp: string, rooms: readonly string[], prefix = CHANNEL_PREFIX): string {
  if (rooms.length === 1 && !looksLikeASocketId(rooms[0])) return roomChannel(nsp, rooms[0], prefix);
  return namespaceChannel(nsp, prefix);
}

export interface BroadcastMessage {
  uid: string;
  nsp: string;
  type: typeof MESSAGE_TYPE_BROADCAST;
  data: {
    packet: { type: typeof PACKET_TYPE_EVENT; data: unknown[] };
    opts: { rooms: string[]; except: string[]; flags: Record<string, unknown> };
  };
}

/**
 * The message a receiving adapter turns into `nsp.to(rooms).except(except)
 * .emit(event, ...args)`. Keys are in the adapter's own order so the encoded
 * bytes match what a gateway would publish for the same broadcast.
 */
export function broadcastMessage(o: { uid: string; nsp: string; rooms: readonly string[]; except: readonly string[]; event: string; args: readonly unknown[] }): BroadcastMessage {
  const message = {
    type: MESSAGE_TYPE_BROADCAST,
    data: {
      packet: { type: PACKET_TYPE_EVENT, data: [o.event, ...o.args] },
      opts: { rooms: [...o.rooms], except: [...o.except], flags: {} },
    },
  } as Omit<BroadcastMessage, "uid" | "nsp"> & Partial<BroadcastMessage>;
  message.uid = o.uid;
  message.nsp = o.nsp;
  return message as BroadcastMessage;
}

/** JSON, or MessagePack when the payload holds binary (the adapter reads a first byte `{` as JSON). */
export function encodeMessage(message: BroadcastMessage): string | Buffer {
  return hasBinary(message.data) ? msgpack(message) : JSON.stringify(message);
}

/** The adapter's hasBinary (dist/util.js): Buffers, typed arrays and ArrayBuffers anywhere in the value. */
export function hasBinary(value: unknown, viaToJSON = false): boolean {
  if (!value || typeof value !== "object") return false;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return true;
  if (Array.isArray(value)) return value.some((v) => hasBinary(v));
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (Object.prototype.hasOwnProperty.call(record, key) && hasBinary(record[key])) return true;
  }
  const toJSON = (record as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function" && !viaToJSON) return hasBinary(toJSON.call(record), true);
  return false;
}
