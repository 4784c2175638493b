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
import { CHANNEL_PREFIX, SUBSCRIPTION_MODE } from "./channels.js";

export { SUBSCRIPTION_MODE };

const LAST_PUBLISH = Symbol("lastPublish");

interface TrackedAdapter {
  readonly uid: string;
  doPublish(message: unknown): Promise<unknown>;
  onMessage(message: BusMessage, offset?: string): unknown;
  shouldUseASeparateNamespace(room: string): boolean;
  close(): Promise<void> | void;
  on(event: "create-room" | "delete-room", listener: (room: string) => void): unknown;
  [LAST_PUBLISH]?: Promise<unknown>;
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
  return function (nsp: Namespace) {
    const adapter = sharded(nsp) as unknown as TrackedAdapter;
    trackChannels(adapter, observers);
    observeIncoming(adapter, nsp.name, observers);
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
