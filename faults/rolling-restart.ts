/**
 * A deploy: one gateway gets SIGTERM and drains while calls carry traffic
 * through the balancer, then starts again. Its clients move to the other
 * gateways and rejoin; the only events they can miss are those sent while
 * they were between connections, which the client helper reports as a gap.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "./cluster.js";
import { bound, type FaultScenario } from "./scenario.js";
import { startStream, type Stream } from "./traffic.js";

/** A moved client waits the suggested delay (at most 3 s, drain.ts), reconnects and rejoins; 5 s margin for a loaded machine. */
export const DEPLOY_GAP_BOUND_MS = 3000 + 5000;
/** Events in flight to a client when its connection closes are lost with it: its window starts this much before the close. */
const IN_FLIGHT_MS = 500;
const STREAMS = 6;

export const rollingRestart: FaultScenario = {
  name: "rolling restart (drain)",
  async run({ topo, log }) {
    if (!topo.balancer) throw new Error("the rolling restart needs the topology's balancer");
    const lb = `http://127.0.0.1:${topo.balancer.port}`;
    const victim = topo.gateways[0];
    const streams: Stream[] = [];
    for (let i = 0; i < STREAMS; i++) streams.push(await startStream({ senderUrl: lb, receiverUrl: lb, callId: `deploy-${i}` }));
    // When each receiver was without a connection (disconnect to rejoined), and the gaps it reported.
    const away = new Map<Stream, Array<[number, number]>>(streams.map((s) => [s, []]));
    const reportedGaps = new Map<Stream, number>(streams.map((s) => [s, 0]));
    for (const s of streams) {
      let since: number | undefined;
      s.receiver.socket.on("disconnect", () => (since = Date.now()));
      s.receiver.onConnect(() => since !== undefined && away.get(s)!.push([since - IN_FLIGHT_MS, Date.now()]));
      s.receiver.onGap(() => reportedGaps.set(s, reportedGaps.get(s)! + 1));
    }
    const onVictim = streams.filter((s) => s.receiver.gateway === `gw-${victim.port}` || s.sender.gateway === `gw-${victim.port}`).length;
    await sleep(1000);

    const termAt = Date.now();
    const code = await victim.stop(60_000, { drain: true });
    const drainedMs = Date.now() - termAt;
    log(`gateway ${victim.port} drained and exited ${code} after ${drainedMs} ms; ${onVictim} of ${STREAMS} streams had a client on it`);
    await waitFor("every client reconnected", () => streams.every((s) => s.sender.gateway && s.receiver.gateway) || undefined, 20_000);
    await sleep(2000);
    const gapMs = Math.max(...streams.map((s) => s.gapBetween(termAt, Date.now())));
    const results = await Promise.all(streams.map((s) => s.stop()));
    await topo.startGateway(victim.port);

    let lostOutside = 0;
    streams.forEach((s, i) => {
      for (const t of results[i].lostSentAt) if (!away.get(s)!.some(([a, b]) => t >= a && t <= b)) lostOutside++;
    });
    const lost = results.reduce((n, r) => n + r.lost, 0);
    const movedReceivers = streams.filter((s) => away.get(s)!.length > 0);
    const unreported = movedReceivers.filter((s) => reportedGaps.get(s) === 0).length;
    return {
      fault: "rolling restart: drain one gateway",
      gapMs,
      sent: results.reduce((n, r) => n + r.sent, 0),
      delivered: results.reduce((n, r) => n + r.delivered, 0),
      lost,
      bounds: [
        bound("exit", `${code} after ${drainedMs} ms`, "0, within the 2 s window + 10 s to close", code === 0 && drainedMs <= 12_000),
        bound("gap", `${gapMs} ms`, `<= ${DEPLOY_GAP_BOUND_MS} ms (suggested delay <= 3 s + reconnect and rejoin + 5 s margin)`, gapMs <= DEPLOY_GAP_BOUND_MS),
        bound("lost outside reconnects", lostOutside, `0: a client misses only what was sent while it was away (from ${IN_FLIGHT_MS} ms before its close to its rejoin)`, lostOutside === 0),
        bound("gaps reported", `${movedReceivers.length - unreported}/${movedReceivers.length}`, "every moved receiver reports its gap (onGap)", unreported === 0),
        bound("ack timeouts", results.reduce((n, r) => n + r.ackTimeouts, 0), "0", results.every((r) => r.ackTimeouts === 0)),
      ],
      notes: [`${onVictim} of ${STREAMS} streams had a client on the drained gateway; ${movedReceivers.length} receivers moved`],
    };
  },
};
