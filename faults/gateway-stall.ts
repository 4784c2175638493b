/**
 * Fault 4: a gateway stalls (SIGSTOP) long enough for Redis to drop its
 * subscriber connection (output buffer over `client-output-buffer-limit
 * pubsub`, lowered here so it takes seconds, not minutes). After SIGCONT it
 * must resubscribe and receive again; other gateways are unaffected while it
 * is stopped.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { callOnShard, cli, clusterNodes, waitFor } from "./cluster.js";
import { gatewayPids, gatewaysAlive } from "./fleet.js";
import { bound, type FaultScenario } from "./scenario.js";
import { openRooms, startStream } from "./traffic.js";

/** Hard limit 256 kB, or 64 kB for 1 s: reached in seconds by the flood below once the kernel buffers are full. */
const LOW_PUBSUB_LIMIT = "pubsub 256kb 64kb 1";
/** Redis' default, restored afterwards. */
const DEFAULT_PUBSUB_LIMIT = "pubsub 32mb 8mb 60";
/** Reconnect (backoff capped at 2 s in bus.ts) + resubscribe + 5 s for a loaded machine catching up after SIGCONT. */
export const STALL_RECOVERY_BOUND_MS = 2000 + 1000 + 5000;
/** A healthy stream's deliveries are 50 ms apart; 2 s allows for the shared CPU, far below any stall effect. */
export const BYSTANDER_GAP_BOUND_MS = 2000;

async function pubsubClients(port: number): Promise<number> {
  return (await cli(port, "CLIENT", "LIST", "TYPE", "pubsub")).trim().split("\n").filter(Boolean).length;
}

export const gatewayStall: FaultScenario = {
  name: "gateway stalled (SIGSTOP)",
  async run({ topo, log }) {
    const pids = gatewayPids(topo);
    const [gA, gB, gC] = topo.gateways;
    const primaries = (await clusterNodes(topo.redis)).filter((n) => n.primary && !n.failed);
    const shard = primaries[0].port;
    for (const p of primaries) await cli(p.port, "CONFIG", "SET", "client-output-buffer-limit", LOW_PUBSUB_LIMIT);
    try {
      const rooms = await openRooms({ senderUrl: gA.url, receiverUrls: [gB.url], prefix: "stall-room", count: 12 });
      const victim = await startStream({ senderUrl: gA.url, receiverUrl: gB.url, callId: await callOnShard(topo.redis, shard, "stall-victim") });
      const bystander = await startStream({ senderUrl: gA.url, receiverUrl: gC.url, callId: await callOnShard(topo.redis, shard, "stall-bystander") });
      // The flood fills the stalled gateway's socket and then its Redis output buffer.
      const flood = await startStream({
        senderUrl: gA.url,
        receiverUrl: gB.url,
        callId: await callOnShard(topo.redis, shard, "stall-flood"),
        intervalMs: 5,
        dataBytes: 15_000,
      });
      await sleep(1000);
      const before = await pubsubClients(shard);

      const stoppedAt = Date.now();
      gB.signal("SIGSTOP");
      log(`SIGSTOP gateway ${gB.port}; waiting for Redis to drop its subscriber (${before} pubsub clients on ${shard})`);
      const droppedAt = await waitFor("the subscriber to be dropped", async () => ((await pubsubClients(shard)) < before ? Date.now() : undefined), 45_000).catch(
        () => undefined,
      );
      await sleep(1000);
      const bystanderGap = bystander.gapBetween(stoppedAt, Date.now());
      await flood.stop(0);
      const contAt = Date.now();
      gB.signal("SIGCONT");
      log(`SIGCONT after ${contAt - stoppedAt} ms`);
      const resumedAt = await waitFor("the stalled gateway to receive again", () => victim.deliveredSentAfter(contAt), STALL_RECOVERY_BOUND_MS + 10_000).catch(
        () => undefined,
      );
      await sleep(1000);
      const check = await rooms.verify(15_000);
      const lostAfterResume = resumedAt === undefined ? undefined : victim.lostSentBetween(resumedAt, Infinity);
      const lostBeforeStall = victim.lostSentBetween(0, stoppedAt);
      const gapMs = victim.gapBetween(stoppedAt, Date.now());
      const [vr, br] = [await victim.stop(), await bystander.stop()];
      rooms.close();
      const alive = topo.gateways.every((g, i) => g.child.pid === pids[i] && g.child.exitCode === null) && gatewaysAlive(topo, pids);
      const recoveryMs = resumedAt === undefined ? undefined : resumedAt - contAt;
      return {
        fault: "gateway SIGSTOP, subscriber dropped",
        gapMs,
        sent: vr.sent + br.sent,
        delivered: vr.delivered + br.delivered,
        lost: vr.lost + br.lost,
        bounds: [
          bound("subscriber dropped", droppedAt ? `${droppedAt - stoppedAt} ms after SIGSTOP` : "never", "Redis drops it (the fault really happened)", droppedAt !== undefined),
          bound("recovery", recoveryMs === undefined ? "never" : `${recoveryMs} ms after SIGCONT`, `<= ${STALL_RECOVERY_BOUND_MS} ms`, recoveryMs !== undefined && recoveryMs <= STALL_RECOVERY_BOUND_MS),
          bound("rooms resubscribed", `${check.reached}/${check.expected}`, "all rooms on the stalled gateway deliver again", check.reached === check.expected),
          bound("bystander gap", `${bystanderGap} ms`, `<= ${BYSTANDER_GAP_BOUND_MS} ms: another gateway on the same shard is unaffected`, bystanderGap <= BYSTANDER_GAP_BOUND_MS),
          bound("bystander lost", br.lost, "0", br.lost === 0),
          bound("lost before stall", lostBeforeStall, "0", lostBeforeStall === 0),
          bound("lost after resume", lostAfterResume ?? "n/a", "0", lostAfterResume === 0),
          // At-most-once pub/sub: what Redis discarded with the dropped
          // subscriber's buffer, and what was published before it resubscribed, is gone.
          bound("lost", vr.lost, "only messages sent to the stalled gateway between SIGSTOP and its resubscription", vr.lost === victim.lostSentBetween(stoppedAt, resumedAt ?? Infinity)),
          bound("gateways restarted", alive ? 0 : "some", "0", alive),
        ],
        notes: [`stalled ${contAt - stoppedAt} ms; flood of 15 kB events every 5 ms to fill the buffers`],
      };
    } finally {
      for (const p of (await clusterNodes(topo.redis)).filter((n) => n.primary && !n.failed)) {
        await cli(p.port, "CONFIG", "SET", "client-output-buffer-limit", DEFAULT_PUBSUB_LIMIT);
      }
    }
  },
};
