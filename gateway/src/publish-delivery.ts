/**
 * How the gateway's POST /v1/publish reaches the fleet: through the sharded
 * emitter on the bus's publishing connection, exactly as an outside service
 * would. This gateway's own members get it back through their subscriptions
 * like everyone else's (the emitter's uid is not this adapter's), so a 202
 * means Redis accepted it for every gateway at once.
 */
import type { Server } from "socket.io";
import type { Bus } from "./bus.js";
import type { GatewayConfig } from "./config.js";
import type { NamespaceName } from "./protocol.js";
import type { Delivery, PublishEndpointDeps } from "./publish-endpoint.js";
import { createShardedEmitter, type ShardedEmitter } from "./sharded-emitter.js";

/** Room for the envelope the emitter adds around a body of PUBLISH_MAX_BYTES. */
const ENVELOPE_BYTES = 1024;

export function createPublishDelivery(o: { bus: Bus; io: () => Server | undefined; config: GatewayConfig }): PublishEndpointDeps["deliver"] {
  let emitter: ShardedEmitter | undefined;
  return async (namespace: NamespaceName, room: string, event: string, payload: unknown): Promise<Delivery> => {
    const io = o.io();
    if (!io) throw new Error("the gateway is starting: not connected to the bus yet");
    if (!o.bus.pub) {
      // Memory mode: this process is the whole fleet.
      if (o.config.namespaces.includes(namespace)) io.of(namespace).to(room).emit(event, payload);
      return { namespace, room };
    }
    emitter ??= createShardedEmitter(o.bus.pub, {
      publishTimeoutMs: o.config.redis.publishTimeoutMs,
      maxMessageBytes: o.config.publish.maxBytes + ENVELOPE_BYTES,
    });
    const receipt = await emitter.of(namespace).to(room).emit(event, payload);
    return { namespace, room, channel: receipt.channel, receivers: receipt.receivers };
  };
}
