/**
 * Measured traffic for fault scenarios: a sender on one gateway relays
 * numbered `call:event`s at a fixed rate to a member on another gateway. Every
 * send, its ack and every delivery are timestamped, so a scenario can say how
 * long deliveries stopped (the gap), and which messages were lost: a message
 * is lost only if its sender got `{ ok: true }` and it never arrived.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createSwitchboardClient, type SwitchboardClient } from "../client/switchboard-client.js";
import type { RelayedCallEvent } from "../gateway/src/protocol.js";

export interface StreamOptions {
  senderUrl: string;
  receiverUrl: string;
  callId: string;
  /** One message every `intervalMs` (default 50: 20/s, fine-grained enough to time a gap). */
  intervalMs?: number;
  /** Padding per message, to fill a stalled subscriber's output buffer. */
  dataBytes?: number;
  /** How long the sender waits for an ack; a hang shows up as a timeout (default 10 s). */
  ackTimeoutMs?: number;
}

interface Send {
  seq: number;
  sentAt: number;
  ackMs?: number;
  outcome: "pending" | "ok" | "failed" | "timeout";
  code?: string;
}

export interface StreamResult {
  sent: number;
  ackedOk: number;
  ackedFailed: number;
  ackTimeouts: number;
  delivered: number;
  /** Acked ok, never delivered. */
  lost: number;
  /** When each lost message was sent (ms since the epoch), to place losses against the fault's timeline. */
  lostSentAt: number[];
  /** Longest time without a delivery while the stream ran, in ms. */
  gapMs: number;
  /** Slowest failed ack, in ms (fail fast while the bus is away). */
  slowestFailedAckMs: number;
}

export interface Stream {
  readonly callId: string;
  readonly sender: SwitchboardClient;
  readonly receiver: SwitchboardClient;
  /** When the receiver first got a message sent at or after `t`, or undefined. */
  deliveredSentAfter(t: number): number | undefined;
  /** Messages sent in [from, to) that were acked ok and not delivered (so far). */
  lostSentBetween(from: number, to: number): number;
  /** Messages sent in [from, to): how many, and how many of them arrived. */
  sentBetween(from: number, to: number): { sent: number; delivered: number };
  /** Longest time without a delivery within [from, to). */
  gapBetween(from: number, to: number): number;
  /** Stops sending, waits `settleMs` for stragglers, closes the clients. */
  stop(settleMs?: number): Promise<StreamResult>;
}

export async function startStream(o: StreamOptions): Promise<Stream> {
  const intervalMs = o.intervalMs ?? 50;
  const padding = "x".repeat(o.dataBytes ?? 0);
  const sender = createSwitchboardClient(o.senderUrl, { ackTimeoutMs: o.ackTimeoutMs ?? 10_000, reconnectMinMs: 100, reconnectMaxMs: 1000 });
  const receiver = createSwitchboardClient(o.receiverUrl, { reconnectMinMs: 100, reconnectMaxMs: 1000 });
  await Promise.all([sender.connected(), receiver.connected()]);
  for (const c of [sender, receiver]) {
    const ack = await c.join(o.callId);
    if (!ack.ok) throw new Error(`join ${o.callId} failed: ${JSON.stringify(ack)}`);
  }

  const sends: Send[] = [];
  const received = new Map<number, number>();
  const arrivals: number[] = [];
  receiver.onCallEvent((e: RelayedCallEvent) => {
    const seq = (e.data as { seq?: number })?.seq;
    if (e.callId !== o.callId || typeof seq !== "number" || received.has(seq)) return;
    const now = Date.now();
    received.set(seq, now);
    arrivals.push(now);
  });

  // The stream must prove the room works before a fault is injected.
  const probe = await sender.send(o.callId, "probe", { seq: -1 });
  if (!probe.ok) throw new Error(`probe send failed: ${JSON.stringify(probe)}`);
  for (let i = 0; !received.has(-1); i++) {
    if (i > 100) throw new Error(`stream ${o.callId}: receiver on ${o.receiverUrl} got nothing within 5 s`);
    await sleep(50);
  }

  const startedAt = Date.now();
  let running = true;
  const pending = new Set<Promise<void>>();
  const loop = (async () => {
    for (let seq = 0; running; seq++) {
      const s: Send = { seq, sentAt: Date.now(), outcome: "pending" };
      sends.push(s);
      const p = sender
        .send(o.callId, "seq", { seq, padding })
        .then(
          (ack) => {
            s.outcome = ack.ok ? "ok" : "failed";
            if (!ack.ok) s.code = ack.error.code;
          },
          (err: Error) => {
            // socket.io-client fails a pending ack at once when the connection
            // drops ("socket has been disconnected"): a fast failure, not a hang.
            s.outcome = /timed out/.test(err.message) ? "timeout" : "failed";
            if (s.outcome === "failed") s.code = "disconnected";
          },
        )
        .finally(() => {
          s.ackMs = Date.now() - s.sentAt;
          pending.delete(p);
        });
      pending.add(p);
      await sleep(intervalMs);
    }
  })();

  const lostIn = (from: number, to: number) =>
    sends.filter((s) => s.sentAt >= from && s.sentAt < to && s.outcome === "ok" && !received.has(s.seq)).length;

  const gapBetween = (from: number, to: number) => {
    let last = from;
    let gap = 0;
    for (const t of arrivals) {
      if (t < from) continue;
      if (t >= to) break;
      gap = Math.max(gap, t - last);
      last = t;
    }
    return Math.max(gap, to - last);
  };

  return {
    callId: o.callId,
    sender,
    receiver,
    deliveredSentAfter(t) {
      let first: number | undefined;
      for (const s of sends) {
        if (s.sentAt < t) continue;
        const at = received.get(s.seq);
        if (at !== undefined && (first === undefined || at < first)) first = at;
      }
      return first;
    },
    lostSentBetween: lostIn,
    sentBetween(from, to) {
      const inRange = sends.filter((s) => s.sentAt >= from && s.sentAt < to);
      return { sent: inRange.length, delivered: inRange.filter((s) => received.has(s.seq)).length };
    },
    gapBetween,
    async stop(settleMs = 3000) {
      running = false;
      await loop;
      const stoppedAt = Date.now();
      await Promise.allSettled([...pending]);
      await sleep(settleMs);
      sender.close();
      receiver.close();
      const failed = sends.filter((s) => s.outcome === "failed");
      return {
        sent: sends.length,
        ackedOk: sends.filter((s) => s.outcome === "ok").length,
        ackedFailed: failed.length,
        ackTimeouts: sends.filter((s) => s.outcome === "timeout").length,
        delivered: sends.filter((s) => received.has(s.seq)).length,
        lost: lostIn(0, Infinity),
        lostSentAt: sends.filter((s) => s.outcome === "ok" && !received.has(s.seq)).map((s) => s.sentAt),
        gapMs: gapBetween(startedAt, stoppedAt),
        slowestFailedAckMs: Math.max(0, ...failed.map((s) => s.ackMs ?? 0)),
      };
    },
  };
}

export interface RoomSet {
  readonly callIds: string[];
  /**
   * Sends one event in each room (retrying a send the bus refused) and waits
   * until every receiver got it: how many (room, receiver) pairs were reached.
   */
  verify(timeoutMs: number): Promise<{ expected: number; reached: number }>;
  close(): void;
}

/** A sender on one gateway and members on others, in `count` rooms spread over the shards by their names. */
export async function openRooms(o: { senderUrl: string; receiverUrls: string[]; prefix: string; count: number }): Promise<RoomSet> {
  const callIds = Array.from({ length: o.count }, (_, i) => `${o.prefix}-${i}`);
  const sender = createSwitchboardClient(o.senderUrl, { reconnectMinMs: 100, reconnectMaxMs: 1000 });
  const receivers = o.receiverUrls.map((url) => createSwitchboardClient(url, { reconnectMinMs: 100, reconnectMaxMs: 1000 }));
  const got = receivers.map(() => new Set<string>());
  let round = 0;
  receivers.forEach((r, i) =>
    r.onCallEvent((e) => {
      if ((e.data as { round?: number })?.round === round) got[i].add(e.callId);
    }),
  );
  for (const c of [sender, ...receivers]) {
    await c.connected();
    for (const callId of callIds) {
      const ack = await c.join(callId);
      if (!ack.ok) throw new Error(`join ${callId}: ${JSON.stringify(ack)}`);
    }
  }
  return {
    callIds,
    async verify(timeoutMs) {
      round++;
      got.forEach((s) => s.clear());
      const deadline = Date.now() + timeoutMs;
      const acked = new Set<string>();
      while (Date.now() < deadline) {
        for (const callId of callIds) {
          if (acked.has(callId)) continue;
          const ack = await sender.send(callId, "verify", { round }).catch(() => undefined);
          if (ack?.ok) acked.add(callId);
        }
        if (got.every((s) => s.size === callIds.length)) break;
        await sleep(200);
      }
      return { expected: callIds.length * receivers.length, reached: got.reduce((n, s) => n + s.size, 0) };
    },
    close() {
      for (const c of [sender, ...receivers]) c.close();
    },
  };
}
