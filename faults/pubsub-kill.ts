/**
 * Fault 5: Redis closes the gateways' subscriber connections
 * (`CLIENT KILL TYPE pubsub` on every primary). Each gateway must reconnect
 * and resubscribe every room it holds, with no restart.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { callOnShard, cli, clusterNodes, waitFor } from "./cluster.js";
import { gatewayPids, gatewaysAlive } from "./fleet.js";
import { bound, type FaultScenario } from "./scenario.js";
import { openRooms, startStream } from "./traffic.js";

/** node-redis reconnects after 25-50 ms (bus.ts backoff) and replays its subscriptions; 5 s covers a loaded machine. */
export const PUBSUB_KILL_GAP_BOUND_MS = 5000;
const ROOMS = 24;

export const pubsubKill: FaultScenario = {
  name: "subscriber connections killed by Redis",
  async run({ topo, log }) {
    const pids = gatewayPids(topo);
    const [a, b, c] = topo.gateways.map((g) => g.url);
    const primaries = (await clusterNodes(topo.redis)).filter((n) => n.primary && !n.failed);
    const rooms = await openRooms({ senderUrl: a, receiverUrls: [b, c], prefix: "killed-sub", count: ROOMS });
    const stream = await startStream({ senderUrl: a, receiverUrl: b, callId: await callOnShard(topo.redis, primaries[0].port, "killed-sub-stream") });
    await sleep(1000);

    const killedAt = Date.now();
    let killed = 0;
    for (const p of primaries) killed += Number(/\d+/.exec(await cli(p.port, "CLIENT", "KILL", "TYPE", "pubsub"))?.[0] ?? 0);
    log(`killed ${killed} subscriber connections on ${primaries.length} primaries`);
    const resumedAt = await waitFor("deliveries to resume", () => stream.deliveredSentAfter(killedAt + 1), PUBSUB_KILL_GAP_BOUND_MS + 10_000).catch(
      () => undefined,
    );
    await sleep(1000);
    const check = await rooms.verify(15_000);
    const lostAfterResume = resumedAt === undefined ? undefined : stream.lostSentBetween(resumedAt, Infinity);
    const gapMs = stream.gapBetween(killedAt, Date.now());
    const result = await stream.stop();
    rooms.close();
    const alive = gatewaysAlive(topo, pids);
    return {
      fault: "CLIENT KILL TYPE pubsub",
      gapMs,
      sent: result.sent,
      delivered: result.delivered,
      lost: result.lost,
      bounds: [
        bound("connections killed", killed, ">= 3: one subscriber per gateway on at least one shard", killed >= 3),
        bound("gap", `${gapMs} ms`, `<= ${PUBSUB_KILL_GAP_BOUND_MS} ms (reconnect 25-50 ms + resubscribe; margin for a loaded machine)`, gapMs <= PUBSUB_KILL_GAP_BOUND_MS),
        bound("rooms resubscribed", `${check.reached}/${check.expected}`, `all ${ROOMS} rooms on both receiving gateways deliver again`, check.reached === check.expected),
        bound("lost after resume", lostAfterResume ?? "n/a", "0", lostAfterResume === 0),
        bound("lost", result.lost, "only messages published while the subscriber was away, at most gap/interval", result.lost <= Math.ceil(gapMs / 50)),
        bound("gateways restarted", alive ? 0 : "some", "0", alive),
      ],
      notes: [`${killed} pubsub connections killed`],
    };
  },
};
