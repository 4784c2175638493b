/**
 * The Socket.IO adapter over the bus: `createShardedAdapter` in `dynamic`
 * subscription mode (one sharded channel per room, so each shard carries only
 * its own rooms), with two additions the stock adapter lacks:
 * - every SPUBLISH is bounded in time, so a sender never waits on a dead shard;
 * - the outcome of a broadcast's publish can be awaited, so a sender's ack
 *   can say "published" truthfully (the stock broadcast swallows the error);
 * - observers see the sharded channels subscribed and each broadcast arriving
 *   from another gateway, for the metrics.
 */
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { Namespace } from "socket.io";
import { withTimeout, type Bus } from "./bus.js";
import { CHANNEL_PREFIX, SUBSCRIPTION_MODE, roomChannel } from "./channels.js";

export { SUBSCRIPTION_MODE };

const LAST_PUBLISH = Symbol("lastPublish");
const SUBSCRIPTIONS = Symbol("subscriptions");

/** SSUBSCRIBEs in flight, by channel, and how long a join may wait for one. */
interface Subscriptions {
  pending: Map<string, Promise<unknown>>;
  timeoutMs: number;
  /** While Redis is away a join does not wait: members on this gateway are served, the subscription completes on reconnect. */
  busHealthy(): boolean;
}

interface TrackedAdapter {
  readonly uid: string;
  doPublish(message: unknown): Promise<unknown>;
  onMessage(message: BusMessage, offset?: string): unknown;
  shouldUseASeparateNamespace(room: string): boolean;
  close(): Promise<void> | void;
  on(event: "create-room" | "delete-room", listener: (room: string) => void): unknown;
  [LAST_PUBLISH]?: Promise<unknown>;
  [SUBSCRIPTIONS]?: Subscriptions;
  rooms: Map<string, Set<string>>;
}

/** The cluster message of a broadcast from another gateway (socket.io-adapter's ClusterMessage, BROADCAST = 3). */
interface BroadcastMessage {
  type: number;
  data?: { requestId?: string; packet?: { id?: number }; opts?: { rooms?: string[]; flags?: { timeout?: number } } };
}

/** The part of socket.io-adapter's cluster message the observers read. */
interface BusMessage {
  uid?: string;
  nsp?: string;
  type?: number;
  data?: { packet?: unknown };
}

// socket.io-adapter's MessageType.BROADCAST (not exported as a value by the package's ESM types).
const BROADCAST = 3;

export interface PublishObserver {
  (outcome: { ok: boolean; seconds: number }): void;
}

export interface AdapterObservers {
  /** Called with +n / -n as the adapter subscribes and unsubscribes sharded channels. */
  channels?(delta: number): void;
  /** Called with the packet of each broadcast that arrives from another gateway's adapter. */
  broadcastReceived?(namespace: string, packet: unknown): void;
}

/** The adapter constructor for `new Server({ adapter })`, or undefined in memory mode. */
export function createBusAdapter(bus: Bus, publishTimeoutMs: number, observe?: PublishObserver, observers: AdapterObservers = {}) {
  if (!bus.pub || !bus.sub) return undefined;
  const sharded = createShardedAdapter(bus.pub, bus.sub, {
    // Spelled out (they are the defaults) because emitter/ writes to these channels too.
    channelPrefix: CHANNEL_PREFIX,
    subscriptionMode: SUBSCRIPTION_MODE,
  });
  const subscriptions = trackSubscriptions(bus.sub, publishTimeoutMs, () => bus.health().ok);
  return function (nsp: Namespace) {
    const adapter = sharded(nsp) as unknown as TrackedAdapter;
    adapter[SUBSCRIPTIONS] = subscriptions;
    trackChannels(adapter, observers);
    observeIncoming(adapter, nsp.name, observers);
    const onMessage = adapter.onMessage.bind(adapter);
    adapter.onMessage = (message: BusMessage, offset?: string) => {
      const result = onMessage(message, offset);
      forgetUnansweredAcks(nsp, adapter, message as BroadcastMessage);
      return result;
    };
    const doPublish = adapter.doPublish.bind(adapter);
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
 * Counts the sharded channels this adapter holds, from the same decisions the
 * adapter makes: its constructor SSUBSCRIBEs 2 (the namespace channel and its
 * own response channel); in dynamic mode each room for which
 * `shouldUseASeparateNamespace` holds gets one channel on create-room and
 * loses it on delete-room; close() unsubscribes them all. Our listeners run
 * right after the adapter's own, on the same state, so the count is exact.
 * (node-redis keeps its listeners in private fields, so it cannot be asked.)
 */
function trackChannels(adapter: TrackedAdapter, observers: AdapterObservers): void {
  if (!observers.channels) return;
  const report = observers.channels;
  let held = 2;
  report(held);
  adapter.on("create-room", (room) => {
    if (adapter.shouldUseASeparateNamespace(room)) {
      held++;
      report(1);
    }
  });
  adapter.on("delete-room", (room) => {
    if (adapter.shouldUseASeparateNamespace(room)) {
      held--;
      report(-1);
    }
  });
  const close = adapter.close.bind(adapter);
  adapter.close = () => {
    report(-held);
    held = 0;
    return close();
  };
}

/**
 * The sharded adapter hands every decoded bus message to `this.onMessage`;
 * wrapping it on the instance sees each broadcast before local delivery.
 * Messages from this adapter itself and other namespaces are skipped, as the
 * adapter skips them.
 */
function observeIncoming(adapter: TrackedAdapter, namespace: string, observers: AdapterObservers): void {
  const seen = observers.broadcastReceived;
  if (!seen) return;
  const onMessage = adapter.onMessage.bind(adapter);
  adapter.onMessage = (message: BusMessage, offset?: string) => {
    if (message?.type === BROADCAST && message.uid !== adapter.uid && message.nsp === namespace) {
      try {
        seen(namespace, message.data?.packet);
      } catch {
        // An observer must never stop delivery.
      }
    }
    return onMessage(message, offset);
  };
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
 * The adapter subscribes a room's channel when the room is created on this
 * gateway, without waiting for Redis to confirm it. A join acknowledged
 * before the SSUBSCRIBE completes lets the client send or be sent to a room
 * whose events this gateway does not receive yet: the first events after a
 * join were lost under load. So the subscriber connection's sSubscribe is
 * wrapped to keep each pending subscription, and `roomReady` lets a join wait
 * for its room's (bounded by the publish timeout: with Redis away the join
 * still succeeds locally and the subscription completes on reconnect).
 */
function trackSubscriptions(sub: any, timeoutMs: number, busHealthy: () => boolean): Subscriptions {
  const pending = new Map<string, Promise<unknown>>();
  const sSubscribe = sub.sSubscribe.bind(sub);
  sub.sSubscribe = (channels: string | string[], ...rest: unknown[]) => {
    const done = Promise.resolve(sSubscribe(channels, ...rest));
    for (const channel of Array.isArray(channels) ? channels : [channels]) {
      pending.set(channel, done);
      done.then(
        () => pending.get(channel) === done && pending.delete(channel),
        () => pending.get(channel) === done && pending.delete(channel),
      );
    }
    return done;
  };
  return { pending, timeoutMs, busHealthy };
}

/** Resolves once this gateway's subscription to `room`'s channel is confirmed by Redis (or the wait times out). */
export async function roomReady(nsp: Namespace, room: string): Promise<void> {
  const subscriptions = (nsp.adapter as unknown as TrackedAdapter)[SUBSCRIPTIONS];
  const pending = subscriptions?.pending.get(roomChannel(nsp.name, room));
  if (!pending || !subscriptions!.busHealthy()) return;
  await withTimeout(pending, subscriptions!.timeoutMs, "SSUBSCRIBE").catch(() => {});
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
