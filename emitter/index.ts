/**
 * The sharded emitter for backend services: publish into the gateways' rooms
 * from any Node.js process that reaches the Redis cluster. See
 * docs/publishing.md for a complete example.
 *
 *   import { createCluster } from "redis";
 *   import { createShardedEmitter, retryPublish } from "./emitter/index.js";
 *
 *   const cluster = createCluster({ rootNodes: [{ url: "redis://127.0.0.1:7000" }] });
 *   await cluster.connect();
 *   const calls = createShardedEmitter(cluster).of("/calls");
 *   await retryPublish(() => calls.to("call:abc").emit("call:event", callEvent({ ... })));
 */
export {
  createShardedEmitter,
  EmitError,
  DEFAULT_EMITTER_MAX_MESSAGE_BYTES,
  type BroadcastTarget,
  type PublishReceipt,
  type ShardedEmitter,
  type ShardedEmitterOptions,
  type ShardedPublisher,
} from "../gateway/src/sharded-emitter.js";
export { serviceCallEvent } from "../gateway/src/service-events.js";
export { retryPublish, type RetryOptions } from "./retry.js";
export { NAMESPACE, ROOM_PATTERN, SERVER_EVENT, type RelayedCallEvent } from "../gateway/src/protocol.js";
