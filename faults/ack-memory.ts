/**
 * Fault 6: acknowledged broadcasts (`call:event` with `receipts: true`) to
 * members whose clients never acknowledge. Each one leaves an ack callback
 * on every member's socket; the heap of the gateway holding those members
 * must settle, not grow with the number of broadcasts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { io, type Socket } from "socket.io-client";
import { createSwitchboardClient } from "../client/switchboard-client.js";
import { CLIENT_EVENT, NAMESPACE } from "../gateway/src/protocol.js";
import { retainedHeap } from "./heap.js";
import { bound, type FaultScenario } from "./scenario.js";

/** Silent members (never acknowledge), all on one gateway. */
const SILENT = 20;
/** Broadcasts per measured round, and how many wait for their receipts at once. */
const ROUND = 1500;
const IN_FLIGHT = 150;
/** 2 kB per event: a retained event shows up in the heap. */
const PADDING = "x".repeat(2048);
/**
 * Heap growth allowed from the first to the last round, after full GCs. A leak
 * of one event per broadcast is 2 rounds x 1500 x >2 kB = over 6 MB; a heap that
 * has settled moves by well under 1 MB between full GCs, so 3 MB separates them.
 */
export const ACK_HEAP_GROWTH_BOUND = 3 * 1024 * 1024;

export const ackMemory: FaultScenario = {
  name: "acknowledged broadcasts never acknowledged",
  async run({ topo, log }) {
    const [holder, senderGw] = topo.gateways;
    const callId = "receipts-silent";
    const silent: Socket[] = [];
    for (let i = 0; i < SILENT; i++) {
      const s = io(holder.url + NAMESPACE.calls, { transports: ["websocket"], reconnection: false, forceNew: true });
      silent.push(s);
      // Listens, never calls the acknowledgement: a buggy or frozen client.
      s.on("call:event", () => {});
      await new Promise<void>((resolve, reject) => s.once("server:hello", () => resolve()).once("connect_error", reject));
      const ack = await s.emitWithAck(CLIENT_EVENT.join, { callId });
      if (!ack.ok) throw new Error(`join: ${JSON.stringify(ack)}`);
    }
    const polite = createSwitchboardClient(holder.url);
    const sender = createSwitchboardClient(senderGw.url, { ackTimeoutMs: 30_000 });
    await Promise.all([polite.connected(), sender.connected()]);
    await polite.join(callId);
    await sender.join(callId);

    let sent = 0;
    let receipts = 0;
    let failed = 0;
    const round = async (n: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < n) {
            next++;
            const ack = await sender.send(callId, "receipt-test", { padding: PADDING }, { receipts: true });
            sent++;
            if (ack.ok) receipts += ack.receipts ?? 0;
            else failed++;
          }
        }),
      );
    };

    await round(200); // warm-up: JIT, buffers, pools
    await sleep(1000);
    const heaps = [await retainedHeap(holder)];
    for (let r = 0; r < 2; r++) {
      await round(ROUND);
      await sleep(1000);
      heaps.push(await retainedHeap(holder));
      log(`round ${r + 1}: ${sent} broadcasts, heap of the members' gateway ${(heaps.at(-1)! / 1e6).toFixed(1)} MB`);
    }
    const growth = heaps.at(-1)! - heaps[0];
    for (const s of silent) s.close();
    polite.close();
    sender.close();
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
    return {
      fault: "receipts never acknowledged",
      gapMs: undefined,
      sent,
      delivered: receipts,
      lost: 0,
      bounds: [
        bound("heap growth", `${mb(growth)} over ${2 * ROUND} broadcasts (${heaps.map(mb).join(" -> ")})`, `< ${mb(ACK_HEAP_GROWTH_BOUND)}: the heap settles`, growth < ACK_HEAP_GROWTH_BOUND),
        bound("receipts", `${receipts} from ${sent} broadcasts`, "exactly one per broadcast (the one member that acknowledges)", receipts === sent && failed === 0),
      ],
      notes: [`${SILENT} silent members on ${holder.url}, sender on ${senderGw.url}; delivered = receipts received`],
    };
  },
};
