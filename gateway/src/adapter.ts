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
import { CHANNEL_PREFIX, SUBSCRIPTION_MODE } from "./channels.js";

export { SUBSCRIPTION_MODE };

const LAST_PUBLISH = Symbol("lastPublish");

interface TrackedAdapter {
  doPublish(message: unknown): Promise<unknown>;
  [LAST_PUBLISH]?: Promise<unknown>;
}

export interface PublishObserver {
  (outcome: { ok: boolean; seconds: number }): void;
}

/** The adapter constructor for `new Server({ adapter })`, or undefined in memory mode. */
export function createBusAdapter(bus: Bus, publishTimeoutMs: number, observe?: PublishObserver) {
  if (!bus.pub || !bus.sub) return undefined;
  const sharded = createShardedAdapter(bus.pub, bus.sub, {
    // Spelled out (they are the defaults) because emitter/ writes to these channels too.
    channelPrefix: CHANNEL_PREFIX,
    subscriptionMode: SUBSCRIPTION_MODE,
  });
  return function (nsp: Namespace) {
    const adapter = sharded(nsp) as unknown as TrackedAdapter;
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
