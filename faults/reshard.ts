/**
 * Fault 2: live resharding. The slot of a busy room's channel moves to
 * another primary while messages flow. Subscriptions must follow (node-redis
 * before 6.0.1 dropped them silently), and no message sent after the
 * migration completes may be lost.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { callOnShard, clusterNodes, moveSlot, ownerOf, roomChannel, slotOf, waitFor } from "./cluster.js";
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
    const primaries = clusterNodes(topo.redis).filter((n) => n.primary && !n.failed);
    const [from, to] = primaries;
    const callId = callOnShard(topo.redis, from.port, "reshard");
    const slot = slotOf(topo.redis, roomChannel("/calls", `call:${callId}`));
    const streams = await Promise.all([
      startStream({ senderUrl: gA.url, receiverUrl: gB.url, callId, intervalMs: 20 }),
      startStream({ senderUrl: gC.url, receiverUrl: gA.url, callId, intervalMs: 20 }),
    ]);
    await sleep(1000);

    const startedAt = Date.now();
    moveSlot(topo.redis, slot, to.port);
    const migratedAt = Date.now();
    const owner = ownerOf(clusterNodes(topo.redis), slot).port;
    log(`moved slot ${slot} from ${from.port} to ${to.port} in ${migratedAt - startedAt} ms (owner now ${owner})`);
    const resumedAt = await waitFor(
      "deliveries sent after the migration",
      () => {
        const at = streams.map((s) => s.deliveredSentAfter(migratedAt));
        return at.every((t) => t !== undefined) ? Math.max(...(at as number[])) : undefined;
      },
      RESHARD_GAP_BOUND_MS + 10_000,
    ).catch(() => undefined);
    await sleep(2000);
    const subscribedOnTarget = topo.redis.cli(to.port, "PUBSUB", "SHARDNUMSUB", roomChannel("/calls", `call:${callId}`)).trim().split("\n")[1];
    const lostAfter = streams.reduce((n, s) => n + s.lostSentBetween(migratedAt, Infinity), 0);
    const lostDuring = streams.reduce((n, s) => n + s.lostSentBetween(startedAt, migratedAt), 0);
    const gapMs = Math.max(...streams.map((s) => s.gapBetween(startedAt, Date.now())));
    const results = await Promise.all(streams.map((s) => s.stop()));
    const alive = gatewaysAlive(topo, pids);
    // Move it back so a later scenario finds the slot map it expects.
    moveSlot(topo.redis, slot, from.port);
    const sum = (k: "sent" | "delivered" | "lost") => results.reduce((n, r) => n + r[k], 0);
    return {
      fault: "live reshard of a busy room's slot",
      gapMs,
      sent: sum("sent"),
      delivered: sum("delivered"),
      lost: sum("lost"),
      bounds: [
        bound("slot moved", `${slot}: ${from.port} -> ${owner}`, `owned by ${to.port}`, owner === to.port),
        bound("subscribers on the new owner", subscribedOnTarget ?? "none", "3 (every gateway with a member followed the slot)", Number(subscribedOnTarget) === 3),
        bound("gap", `${gapMs} ms`, `<= ${RESHARD_GAP_BOUND_MS} ms (SUNSUBSCRIBE push + rediscovery + resubscribe)`, gapMs <= RESHARD_GAP_BOUND_MS),
        bound("lost after migration", lostAfter, "0: nothing sent after the migration completed is lost", lostAfter === 0),
        bound("resumed", resumedAt === undefined ? "never" : `${resumedAt - migratedAt} ms after`, "both streams deliver", resumedAt !== undefined),
        bound("gateways restarted", alive ? 0 : "some", "0", alive),
      ],
      notes: [`migration took ${migratedAt - startedAt} ms; ${lostDuring} lost among messages sent while it ran`],
    };
  },
};
