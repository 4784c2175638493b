/**
 * Fault 2: live resharding. The slot of a busy room's channel moves to
 * another primary while messages flow. Subscriptions must follow (node-redis
 * before 6.0.1 dropped them silently), and no message sent after the
 * migration completes may be lost.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { callOnShard, clusterNodes, moveSlot, ownerOf, roomChannel, slotOf, subscribersOf, waitFor } from "./cluster.js";
import { gatewayPids, gatewaysAlive } from "./fleet.js";
import { bound, type FaultScenario } from "./scenario.js";
import { startStream } from "./traffic.js";

/**
 * Moving a slot that holds no keys is a handful of SETSLOTs; the subscriber
 * follows on Redis' SUNSUBSCRIBE push plus a rediscovery. 3 s covers a loaded machine.
 */
export const RESHARD_GAP_BOUND_MS = 3000;

export const reshard: FaultScenario = {
  name: "live resharding",
  async run({ topo, log }) {
    const pids = gatewayPids(topo);
    const [gA, gB, gC] = topo.gateways;
    const primaries = (await clusterNodes(topo.redis)).filter((n) => n.primary && !n.failed);
    const [from, to] = primaries;
    const callId = await callOnShard(topo.redis, from.port, "reshard");
    const slot = slotOf(roomChannel("/calls", `call:${callId}`));
    const streams = await Promise.all([
      startStream({ senderUrl: gA.url, receiverUrl: gB.url, callId, intervalMs: 20 }),
      startStream({ senderUrl: gC.url, receiverUrl: gA.url, callId, intervalMs: 20 }),
    ]);
    const channel = roomChannel("/calls", `call:${callId}`);
    const subscribers = await subscribersOf(topo.redis, channel);
    await sleep(1000);

    const startedAt = Date.now();
    await moveSlot(topo.redis, slot, to.port);
    const movedAt = Date.now();
    const owner = ownerOf(await clusterNodes(topo.redis), slot).port;
    log(`moved slot ${slot} from ${from.port} to ${to.port} in ${movedAt - startedAt} ms (owner now ${owner})`);
    // A migration of pub/sub is complete when the slot is moved AND every
    // subscriber has followed it (each on Redis' SUNSUBSCRIBE push). In
    // between, a publish that follows MOVED first can reach the new owner
    // before a subscriber does: at-most-once pub/sub, measured below.
    const migratedAt = await waitFor("every subscriber on the new owner", async () => ((await subscribersOf(topo.redis, channel)) >= subscribers ? Date.now() : undefined), 15_000).catch(
      () => Infinity,
    );
    const resumedAt = await waitFor(
      "deliveries sent after the migration",
      () => {
        const at = streams.map((s) => s.deliveredSentAfter(migratedAt));
        return at.every((t) => t !== undefined) ? Math.max(...(at as number[])) : undefined;
      },
      RESHARD_GAP_BOUND_MS + 10_000,
    ).catch(() => undefined);
    await sleep(2000);
    const subscribedOnTarget = await subscribersOf(topo.redis, channel);
    const lostAfter = streams.reduce((n, s) => n + s.lostSentBetween(migratedAt, Infinity), 0);
    const lostDuring = streams.reduce((n, s) => n + s.lostSentBetween(startedAt, migratedAt), 0);
    const sentDuring = streams.reduce((n, s) => n + s.sentBetween(startedAt, migratedAt).sent, 0);
    const gapMs = Math.max(...streams.map((s) => s.gapBetween(startedAt, Date.now())));
    const results = await Promise.all(streams.map((s) => s.stop()));
    const alive = gatewaysAlive(topo, pids);
    // Move it back so a later scenario finds the slot map it expects.
    await moveSlot(topo.redis, slot, from.port);
    const sum = (k: "sent" | "delivered" | "lost") => results.reduce((n, r) => n + r[k], 0);
    return {
      fault: "live reshard of a busy room's slot",
      gapMs,
      sent: sum("sent"),
      delivered: sum("delivered"),
      lost: sum("lost"),
      bounds: [
        bound("slot moved", `${slot}: ${from.port} -> ${owner}`, `owned by ${to.port}`, owner === to.port),
        bound("subscribers on the new owner", subscribedOnTarget, `${subscribers}, as before: every gateway with a member followed the slot`, subscribedOnTarget === subscribers && subscribers === 3),
        bound("subscribers followed", Number.isFinite(migratedAt) ? `${migratedAt - movedAt} ms after the last SETSLOT` : "never", `<= ${RESHARD_GAP_BOUND_MS} ms`, migratedAt - movedAt <= RESHARD_GAP_BOUND_MS),
        bound("gap", `${gapMs} ms`, `<= ${RESHARD_GAP_BOUND_MS} ms (SUNSUBSCRIBE push + rediscovery + resubscribe)`, gapMs <= RESHARD_GAP_BOUND_MS),
        bound("lost after migration", lostAfter, "0: nothing sent after the migration completed (slot moved, subscribers followed) is lost", lostAfter === 0),
        bound("lost during migration", `${lostDuring} of ${sentDuring}`, "only messages sent while subscribers were following the slot", lostDuring <= sentDuring),
        bound("resumed", resumedAt === undefined ? "never" : `${resumedAt - migratedAt} ms after`, "both streams deliver", resumedAt !== undefined),
        bound("gateways restarted", alive ? 0 : "some", "0", alive),
      ],
      notes: [`SETSLOTs took ${movedAt - startedAt} ms, subscribers followed ${migratedAt - movedAt} ms later; ${lostDuring} lost among the ${sentDuring} messages sent meanwhile`],
    };
  },
};
