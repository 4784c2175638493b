/**
 * Fault 3: Redis is unreachable altogether (every node killed). Gateways stay
 * up and say why on /readyz; members of a room on the same gateway still get
 * each other's events; a publish fails fast with an error ack instead of
 * hanging; when Redis returns every room is resubscribed, with no restart.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "./cluster.js";
import { gatewayPids, gatewaysAlive, waitFleetHealthy } from "./fleet.js";
import { PUBLISH_TIMEOUT_MS, bound, type FaultScenario } from "./scenario.js";
import { openRooms, startStream } from "./traffic.js";

const OUTAGE_MS = 5000;
/** A failed publish acks within PUBLISH_TIMEOUT_MS; 1 s on top for a loaded machine. */
export const FAIL_FAST_BOUND_MS = PUBLISH_TIMEOUT_MS + 1000;
/**
 * From the cluster answering again to cross-gateway deliveries: one
 * reconnect attempt of node-redis (backoff capped at 2 s in bus.ts), a
 * topology refresh, the resubscribe; 5 s margin for a loaded machine.
 */
export const RECOVERY_BOUND_MS = 2000 + 1000 + 5000;
/** The gateway probes Redis every 2 s (bus.ts); /readyz must follow within two probes and a bit. */
export const READYZ_BOUND_MS = 5000;

export const redisDown: FaultScenario = {
  name: "Redis unreachable",
  async run({ topo, log }) {
    const pids = gatewayPids(topo);
    const [a, b, c] = topo.gateways.map((g) => g.url);
    const rooms = await openRooms({ senderUrl: a, receiverUrls: [b, c], prefix: "outage-room", count: 12 });
    const local = await startStream({ senderUrl: a, receiverUrl: a, callId: "outage-local" });
    const remote = await startStream({ senderUrl: a, receiverUrl: b, callId: "outage-remote" });
    await sleep(1000);

    const killedAt = Date.now();
    for (const n of topo.redis.nodes) topo.redis.signal(n.port, "SIGKILL");
    await waitFor("nodes gone", () => topo.redis.nodes.every((n) => !n.process) || undefined, 5000);
    log(`killed all ${topo.redis.nodes.length} Redis nodes`);
    const notReady = await waitFor(
      "every gateway's /readyz to say 503",
      async () => {
        const all = await Promise.all(topo.gateways.map((g) => g.readyz()));
        return all.every((r) => r.status === 503) ? { at: Date.now(), reasons: all.map((r) => String(r.body?.reason)) } : undefined;
      },
      READYZ_BOUND_MS + 5000,
    ).catch(() => undefined);
    const outageStart = Date.now();
    await sleep(OUTAGE_MS);
    const outageEnd = Date.now();
    const duringOutage = local.sentBetween(outageStart, outageEnd - FAIL_FAST_BOUND_MS);
    const localGap = local.gapBetween(outageStart, outageEnd);
    const aliveInOutage = gatewaysAlive(topo, pids);

    const restartAt = Date.now();
    for (const n of topo.redis.nodes) await topo.redis.restart(n.port);
    await topo.redis.waitHealthy(30_000);
    const healthyAt = Date.now();
    log(`Redis back and healthy ${healthyAt - outageEnd} ms after restart`);
    const resumedAt = await waitFor("remote deliveries to resume", () => remote.deliveredSentAfter(healthyAt), RECOVERY_BOUND_MS + 10_000).catch(
      () => undefined,
    );
    await waitFleetHealthy(topo);
    const check = await rooms.verify(15_000);
    const lostAfterResume = resumedAt === undefined ? undefined : remote.lostSentBetween(resumedAt, Infinity);
    const lostWhileDown = local.lostSentBetween(killedAt, restartAt) + remote.lostSentBetween(killedAt, restartAt);
    const recovering = remote.sentBetween(restartAt, resumedAt ?? Date.now());
    const gapMs = remote.gapBetween(killedAt, Date.now());
    const [lr, rr] = [await local.stop(), await remote.stop()];
    rooms.close();
    const alive = gatewaysAlive(topo, pids);
    const recoveryMs = resumedAt === undefined ? undefined : resumedAt - healthyAt;
    const slowestFail = Math.max(lr.slowestFailedAckMs, rr.slowestFailedAckMs);

    return {
      fault: "all Redis nodes down",
      gapMs,
      sent: lr.sent + rr.sent,
      delivered: lr.delivered + rr.delivered,
      lost: lr.lost + rr.lost,
      bounds: [
        bound("gateways up", aliveInOutage && alive ? "all" : "some exited", "no gateway exits", aliveInOutage && alive),
        bound(
          "/readyz",
          notReady ? `503 after ${notReady.at - killedAt} ms: ${notReady.reasons[0]}` : "stayed 200",
          `503 naming redis within ${READYZ_BOUND_MS} ms (probe every 2 s)`,
          !!notReady && notReady.at - killedAt <= READYZ_BOUND_MS && notReady.reasons.every((r) => /redis/.test(r)),
        ),
        bound(
          "local delivery in outage",
          `${duringOutage.delivered}/${duringOutage.sent}`,
          "every event sent during the outage reaches a member on the same gateway",
          duringOutage.sent > 0 && duringOutage.delivered === duringOutage.sent,
        ),
        bound("local gap in outage", `${localGap} ms`, `<= ${FAIL_FAST_BOUND_MS} ms (local delivery waits for the publish to fail)`, localGap <= FAIL_FAST_BOUND_MS),
        bound("fail fast", `slowest error ack ${slowestFail} ms`, `<= ${FAIL_FAST_BOUND_MS} ms (PUBLISH_TIMEOUT_MS + 1 s)`, slowestFail <= FAIL_FAST_BOUND_MS && lr.ackedFailed > 0),
        bound("ack timeouts", lr.ackTimeouts + rr.ackTimeouts, "0: no publish hangs", lr.ackTimeouts + rr.ackTimeouts === 0),
        bound("recovery", recoveryMs === undefined ? "never" : `${recoveryMs} ms after the cluster was healthy`, `<= ${RECOVERY_BOUND_MS} ms`, recoveryMs !== undefined && recoveryMs <= RECOVERY_BOUND_MS),
        bound("rooms resubscribed", `${check.reached}/${check.expected}`, "all rooms on both receiving gateways deliver again", check.reached === check.expected),
        bound("lost after resume", lostAfterResume ?? "n/a", "0", lostAfterResume === 0),
        bound("lost while down", lostWhileDown, "0: nothing is acked ok while Redis is away", lostWhileDown === 0),
        // Pub/sub is at-most-once: while the nodes come back, a publish can be
        // accepted before a peer gateway's subscriber has resubscribed (each
        // reconnects on its own jittered backoff). Only that window may lose.
        bound(
          "lost in recovery",
          `${lr.lost + rr.lost - lostWhileDown - (lostAfterResume ?? 0)} of ${recovering.sent} sent between restart and resume`,
          "only messages sent between the restart and the resumption",
          lr.lost + rr.lost - lostWhileDown - (lostAfterResume ?? 0) <= recovering.sent,
        ),
      ],
      notes: [
        `outage ${outageEnd - killedAt} ms; acks: ${lr.ackedOk + rr.ackedOk} ok, ${lr.ackedFailed + rr.ackedFailed} publish_failed`,
        `lost sent at (ms after restart): ${[...lr.lostSentAt, ...rr.lostSentAt].map((t) => t - restartAt).join(", ") || "none"}; cluster healthy at ${healthyAt - restartAt}`,
        `gap is cross-gateway (outage + restart + recovery); same-gateway gap was ${localGap} ms`,
      ],
    };
  },
};
