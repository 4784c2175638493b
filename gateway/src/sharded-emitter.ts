/**
 * The sharded emitter: lets a process that is not a Socket.IO server (a voice
 * agent, a call router, a CRM hook) emit into the gateways' rooms through the
 * Redis cluster, as `@socket.io/redis-emitter` does for the classic adapter.
 * That package publishes with PUBLISH, which the sharded adapter never hears;
 * this one SPUBLISHes to exactly the channel the gateways SSUBSCRIBE for the
 * target, in the adapter's own message format (gateway/src/channels.ts).
 *
 *   const emitter = createShardedEmitter(cluster);
 *   await emitter.of("/calls").to("call:abc").emit("call:event", payload);
 *
 * `emit` resolves once Redis acknowledged the SPUBLISH; it never retries by
 * itself (see emitter/retry.ts for the loop a service should run around it).
 *
 * It lives beside the gateway because the gateway's POST /v1/publish uses it
 * too; services import it from `emitter/` (emitter/index.ts).
 */
import { randomBytes } from "node:crypto";
import { withTimeout } from "./bus.js";
import { broadcastChannel, broadcastMessage, encodeMessage } from "./channels.js";
import { ERROR_CODE, EVENT_TYPE_PATTERN } from "./protocol.js";
import { checkNamespace, checkRoom, describe } from "./validation.js";

/** What the emitter needs of a node-redis client: a cluster client and a single-node client both fit. */
export interface ShardedPublisher {
  sPublish(channel: string, message: string | Buffer): Promise<number>;
}

export interface ShardedEmitterOptions {
  /** How long an SPUBLISH may wait for Redis before emit() rejects (default 5000 ms). */
  publishTimeoutMs?: number;
  /**
   * Largest encoded message, in bytes (default 65536, the gateway's
   * PUBLISH_MAX_BYTES default): every gateway with a member copies it to
   * each member, so a large payload multiplies across the fleet.
   */
  maxMessageBytes?: number;
}

/** What one emit put on the bus. */
export interface PublishReceipt {
  namespace: string;
  rooms: string[];
  except: string[];
  event: string;
  /** The sharded channel written to: the room's own, or the namespace's. */
  channel: string;
  /** SPUBLISH's answer: how many subscriptions on the owning shard received it (gateways with members, for a room channel). */
  receivers: number;
  bytes: number;
}

/** A refused or failed emit; `code` is one of protocol.ts' ERROR_CODE values. */
export class EmitError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "EmitError";
  }
}

export interface ShardedEmitter {
  /** Identifies this emitter's messages on the bus; never equal to a gateway adapter's uid (16 hex digits). */
  readonly uid: string;
  of(namespace: string): BroadcastTarget;
}

/** Immutable, like Socket.IO's BroadcastOperator: each call returns a new target. */
export interface BroadcastTarget {
  to(room: string | readonly string[]): BroadcastTarget;
  in(room: string | readonly string[]): BroadcastTarget;
  except(room: string | readonly string[]): BroadcastTarget;
  /** Emits `event` with `args` to every socket of the target; no ack callbacks (nobody could answer them). */
  emit(event: string, ...args: unknown[]): Promise<PublishReceipt>;
}

/** Socket.IO socket ids: 20 characters of base64url (engine.io's base64id). `except` accepts them besides rooms. */
const SOCKET_ID_PATTERN = /^[A-Za-z0-9_-]{20}$/;

/** Names Socket.IO reserves on the client side; emitting them would confuse every client. */
const RESERVED_EVENTS = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);

export const DEFAULT_EMITTER_MAX_MESSAGE_BYTES = 65_536;

export function createShardedEmitter(redis: ShardedPublisher, options: ShardedEmitterOptions = {}): ShardedEmitter {
  if (typeof redis?.sPublish !== "function") {
    throw new TypeError("createShardedEmitter needs a node-redis client or cluster client (one with sPublish), connected");
  }
  const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_EMITTER_MAX_MESSAGE_BYTES;
  const uid = `emitter-${randomBytes(8).toString("hex")}`;

  function target(namespace: string, rooms: readonly string[], except: readonly string[]): BroadcastTarget {
    const add = (list: readonly string[], value: string | readonly string[], field: "room" | "except") => {
      const values = typeof value === "string" ? [value] : [...value];
      for (const v of values) {
        if (field === "except" && typeof v === "string" && SOCKET_ID_PATTERN.test(v)) continue;
        const checked = checkRoom(v);
        if (!checked.ok) throw new EmitError(checked.error.code, `${field}: ${checked.error.message}`);
      }
      return [...new Set([...list, ...values])];
    };
    return {
      to: (room) => target(namespace, add(rooms, room, "room"), except),
      in: (room) => target(namespace, add(rooms, room, "room"), except),
      except: (room) => target(namespace, rooms, add(except, room, "except")),
      async emit(event, ...args) {
        if (typeof event !== "string" || !EVENT_TYPE_PATTERN.test(event) || RESERVED_EVENTS.has(event)) {
          throw new EmitError(
            ERROR_CODE.invalidEvent,
            `event must be 1-64 characters of [A-Za-z0-9_.:-] and not a reserved Socket.IO name, got ${describe(event)}`,
          );
        }
        if (args.some((a) => typeof a === "function")) {
          throw new EmitError(ERROR_CODE.invalidData, "acknowledgement callbacks are not supported: no gateway can answer them");
        }
        const message = broadcastMessage({ uid, nsp: namespace, rooms, except, event, args });
        let encoded: string | Buffer;
        try {
          encoded = encodeMessage(message);
        } catch (err) {
          throw new EmitError(ERROR_CODE.invalidData, "arguments must be JSON-serialisable values or binary (no cycles)", { cause: err });
        }
        const bytes = Buffer.byteLength(encoded);
        if (bytes > maxMessageBytes) {
          throw new EmitError(ERROR_CODE.dataTooLarge, `the encoded message is ${bytes} bytes, the limit is ${maxMessageBytes}`);
        }
        const channel = broadcastChannel(namespace, rooms);
        let receivers: number;
        try {
          receivers = Number(await withTimeout(redis.sPublish(channel, encoded), publishTimeoutMs, "SPUBLISH"));
        } catch (err) {
          throw new EmitError(ERROR_CODE.publishFailed, `the bus did not acknowledge the publish to ${channel}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        return { namespace, rooms: [...rooms], except: [...except], event, channel, receivers, bytes };
      },
    };
  }

  return {
    uid,
    of(namespace) {
      const checked = checkNamespace(namespace);
      if (!checked.ok) throw new EmitError(checked.error.code, checked.error.message);
      return target(checked.value, [], []);
    },
  };
}
