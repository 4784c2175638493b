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

interface TrackedAdapter {
  doPublish(message: unknown): Promise<unknown>;
  onMessage(message: unknown, offset?: string): unknown;
  rooms: Map<string, Set<string>>;
  [LAST_PUBLISH]?: Promise<unknown>;
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
  const sharded = createShardedAdapter(bus.pub, bus.sub, { subscriptionMode: SUBSCRIPTION_MODE });
  return function (nsp: Namespace) {
    const adapter = sharded(nsp) as unknown as TrackedAdapter;
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
