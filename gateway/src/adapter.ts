/**
 * The Socket.IO adapter over the bus: `createShardedAdapter` in `dynamic`
 * subscription mode (one sharded channel per room, so each shard carries only
 * its own rooms), with two additions the stock adapter lacks:
 * - every SPUBLISH is bounded in time, so a sender never waits on a dead shard;
 * - the outcome of a broadcast's publish can be awaited, so a sender's ack
 *   can say "published" truthfully (the stock broadcast swallows the error).
 */
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { Namespace } from "socket.io";
import { withTimeout, type Bus } from "./bus.js";

export const SUBSCRIPTION_MODE = "dynamic" as const;

const LAST_PUBLISH = Symbol("lastPublish");
const SUBSCRIBED = Symbol("subscribed");

interface TrackedAdapter {
  doPublish(message: unknown): Promise<unknown>;
  onMessage(message: unknown, offset?: string): unknown;
  rooms: Map<string, Set<string>>;
  [LAST_PUBLISH]?: Promise<unknown>;
  /** Resolves when the room's channel subscription is confirmed by Redis. */
  [SUBSCRIBED]?: (room: string) => Promise<void>;
}

/** The cluster message of a broadcast from another gateway (socket.io-adapter's ClusterMessage, BROADCAST = 3). */
interface BroadcastMessage {
  type: number;
  data?: { requestId?: string; packet?: { id?: number }; opts?: { rooms?: string[]; flags?: { timeout?: number } } };
}
const BROADCAST = 3;

export interface PublishObserver {
  (outcome: { ok: boolean; seconds: number }): void;
}

/** The adapter constructor for `new Server({ adapter })`, or undefined in memory mode. */
export function createBusAdapter(bus: Bus, publishTimeoutMs: number, observe?: PublishObserver) {
  if (!bus.pub || !bus.sub) return undefined;
  const subscriptions = trackSubscriptions(bus.sub);
  const sharded = createShardedAdapter(bus.pub, bus.sub, { subscriptionMode: SUBSCRIPTION_MODE });
  return function (nsp: Namespace) {
    const adapter = sharded(nsp) as unknown as TrackedAdapter;
    adapter[SUBSCRIBED] = async (room) => {
      const pending = subscriptions.get(`socket.io#${nsp.name}#${room}#`);
      // While Redis is away, joins still serve members on this gateway; the
      // subscription completes when Redis answers (node-redis queues it).
      if (!pending || !bus.health().ok) return;
      await withTimeout(pending, publishTimeoutMs, "SSUBSCRIBE").catch(() => {});
    };
    const doPublish = adapter.doPublish.bind(adapter);
    const onMessage = adapter.onMessage.bind(adapter);
    adapter.onMessage = (message: unknown, offset?: string) => {
      const result = onMessage(message, offset);
      forgetUnansweredAcks(nsp, adapter, message as BroadcastMessage);
      return result;
    };
    adapter.doPublish = (message: unknown) => {
      const started = performance.now();
      const outcome = withTimeout(doPublish(message), publishTimeoutMs, "SPUBLISH");
      outcome.then(
        () => observe?.({ ok: true, seconds: (performance.now() - started) / 1000 }),
        () => observe?.({ ok: false, seconds: (performance.now() - started) / 1000 }),
      );
      adapter[LAST_PUBLISH] = outcome;
      return outcome;
    };
    return adapter;
  } as unknown as ReturnType<typeof createShardedAdapter>;
}

/**
 * Resolves once this gateway is subscribed to `room`'s channel (at most
 * PUBLISH_TIMEOUT_MS). The adapter subscribes when a room is created but does
 * not wait for Redis' confirmation; a join acked before it could miss events
 * sent from other gateways right after the ack (seen under load: 1 in 60).
 */
export async function roomSubscribed(nsp: Namespace, room: string): Promise<void> {
  await (nsp.adapter as unknown as TrackedAdapter)[SUBSCRIBED]?.(room);
}

/** Records each SSUBSCRIBE's outcome by channel, until it settles. */
function trackSubscriptions(sub: NonNullable<Bus["sub"]>): Map<string, Promise<unknown>> {
  const pending = new Map<string, Promise<unknown>>();
  const sSubscribe = sub.sSubscribe.bind(sub);
  sub.sSubscribe = (channels: string | string[], ...rest: unknown[]) => {
    const outcome: Promise<unknown> = sSubscribe(channels, ...rest);
    for (const channel of [channels].flat()) {
      const tracked = outcome.finally(() => pending.get(channel) === tracked && pending.delete(channel));
      // A failed subscription is retried by node-redis and shows on /readyz; no unhandled rejection.
      tracked.catch(() => {});
      pending.set(channel, tracked);
    }
    return outcome.catch(() => {});
  };
  return pending;
}

/**
 * Runs `emit` (one broadcast on `nsp`) and resolves when its publish to the
 * bus is acknowledged, or rejects when it failed or timed out. The adapter
 * calls doPublish synchronously inside emit(), so the promise captured right
 * after belongs to this broadcast and no other.
 */
export async function emitConfirmed(nsp: Namespace, emit: () => void): Promise<void> {
  const adapter = nsp.adapter as unknown as TrackedAdapter;
  adapter[LAST_PUBLISH] = undefined;
  emit();
  const published = adapter[LAST_PUBLISH];
  adapter[LAST_PUBLISH] = undefined;
  if (published) await published;
}

/**
 * An acknowledged broadcast from another gateway leaves its ack callback on
 * each local member's socket (`socket.acks`), and socket.io-adapter 2.5.9
 * never removes it when the client does not answer: a client that never
 * acknowledges would hold one callback, and its event, per broadcast until
 * it disconnects (the originating gateway cleans its own sockets on timeout,
 * the receiving ones do not). Once the broadcast's timeout has passed nobody
 * waits for the answer any more, so the callbacks are dropped then.
 */
function forgetUnansweredAcks(nsp: Namespace, adapter: TrackedAdapter, message: BroadcastMessage): void {
  const id = message?.data?.packet?.id;
  const timeout = message?.data?.opts?.flags?.timeout;
  if (message?.type !== BROADCAST || message.data?.requestId === undefined || id === undefined || !timeout) return;
  // The members as of the broadcast (a superset of the targets is harmless).
  const rooms = message.data.opts?.rooms ?? [];
  const targets = rooms.length === 0 ? [...nsp.sockets.keys()] : rooms.flatMap((room) => [...(adapter.rooms.get(room) ?? [])]);
  setTimeout(() => {
    for (const sid of targets) (nsp.sockets.get(sid) as unknown as { acks?: Map<number, unknown> } | undefined)?.acks?.delete(id);
  }, timeout + 1000).unref();
}
