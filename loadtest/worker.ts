/**
 * One load-generator process: holds its share of the connections (at most
 * what its file-descriptor limit allows), runs the scenario the coordinator
 * assigned, and reports its counters every second over IPC. Every phase is
 * bounded in time; the process exits when done or when the coordinator goes.
 */
import { LatencyHistogram } from "./histogram.js";
import type { FromWorker, ToWorker, WorkerAssignment, WorkerStats } from "./ipc.js";
import { SioConnection, SioError } from "./sio-connection.js";
import { connectionToken } from "./token.js";

const MAX_CONNECTS_IN_FLIGHT = 200;
const nowMs = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const startedAt = nowMs();
const hist = new LatencyHistogram();
const stats: Omit<WorkerStats, "histDelta" | "histMax" | "rss"> = {
  opened: 0,
  open: 0,
  dropped: 0,
  errors: {},
  sent: 0,
  acked: 0,
  refused: 0,
  deliveries: 0,
  expected: 0,
  lost: 0,
  unconfirmed: 0,
  cycles: 0,
  firstSendAt: 0,
  lastDeliveryAt: 0,
  lastOpenAt: 0,
  openByTarget: {},
};

const send = (m: FromWorker) => process.send?.(m);
function snapshot(): WorkerStats {
  const s: WorkerStats = { ...stats, errors: { ...stats.errors }, openByTarget: { ...stats.openByTarget }, rss: process.memoryUsage.rss(), histDelta: hist.sparse(), histMax: hist.max };
  hist.reset();
  return s;
}
function countError(kind: string): void {
  stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
}

let a: WorkerAssignment;
const conns: Array<SioConnection | undefined> = [];
const inbox: ToWorker[] = [];
let wake: (() => void) | undefined;

process.on("message", (m: ToWorker) => {
  if (m.type === "start") {
    a = m.assignment;
    void run().catch((err) => {
      countError(`worker_failed:${(err as Error).message}`);
      finish();
    });
  } else {
    inbox.push(m);
    wake?.();
  }
});
// The coordinator went away: stop at once, never run on unbounded.
process.on("disconnect", () => process.exit(0));

async function nextCommand(timeoutMs: number): Promise<ToWorker | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (inbox.length === 0 && Date.now() < deadline) {
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, Math.min(1000, deadline - Date.now()));
    });
  }
  return inbox.shift();
}

function callId(room: number): string {
  return `${a.runId}-${room}`;
}

function auth(index: number): Record<string, unknown> | undefined {
  const o = a.options;
  if (o.token) return { token: o.token };
  if (o.tokenSecret) {
    const claims = { issuer: o.tokenIssuer, audience: o.tokenAudience, tenant: o.tenant, tenantClaim: o.tenantClaim };
    return { token: connectionToken(o.tokenSecret, a.runId, index, 24 * 3600, claims) };
  }
  return undefined;
}

/** Connects connection `index` and joins its room; undefined (and an error counted) on failure. */
async function connectAndJoin(index: number): Promise<SioConnection | undefined> {
  const o = a.options;
  const target = o.targets[index % o.targets.length];
  let conn: SioConnection;
  try {
    conn = await SioConnection.open({ url: target, namespace: o.namespace, auth: auth(index), localAddress: a.localAddress, tlsSkipHostname: o.tlsSkipHostname, timeoutMs: o.connectTimeoutMs });
  } catch (err) {
    countError(err instanceof SioError ? err.kind : "error");
    return undefined;
  }
  try {
    const [ack] = (await conn.emitWithAck("join", { callId: callId(Math.floor(index / o.roomSize)) }, o.ackTimeoutMs)) as [
      { ok?: boolean; error?: { code?: string } } | undefined,
    ];
    if (ack && ack.ok === false) {
      countError(`join_refused:${ack.error?.code ?? "unknown"}`);
      conn.destroy();
      return undefined;
    }
  } catch (err) {
    countError(err instanceof SioError ? `join_${err.kind}` : "join_error");
    conn.destroy();
    return undefined;
  }
  stats.opened++;
  stats.open++;
  stats.openByTarget[target] = (stats.openByTarget[target] ?? 0) + 1;
  stats.lastOpenAt = nowMs() - startedAt;
  conn.onClose = () => {
    stats.open--;
    stats.dropped++;
    stats.openByTarget[target]--;
    countError("dropped");
  };
  return conn;
}

/** Opens this worker's connections at its rate, with a bounded number of handshakes in flight. */
async function openAll(): Promise<void> {
  const deadline = Date.now() + (a.count / a.rate) * 2000 + 30_000;
  const began = Date.now();
  let next = 0;
  let inFlight = 0;
  while (next < a.count && Date.now() < deadline) {
    const due = Math.min(a.count, Math.floor(((Date.now() - began) / 1000) * a.rate) + 1);
    while (next < due && inFlight < MAX_CONNECTS_IN_FLIGHT) {
      const slot = next++;
      inFlight++;
      void connectAndJoin(a.first + slot).then((c) => {
        conns[slot] = c;
        inFlight--;
      });
    }
    await sleep(5);
  }
  if (next < a.count) countError("not_attempted_open_deadline");
  while (inFlight > 0) await sleep(20);
}

function closeAll(): number {
  const held = stats.open;
  for (const c of conns) {
    if (c) {
      c.onClose = undefined;
      c.close();
    }
  }
  // openByTarget keeps what each target held at the end, for per-process figures.
  stats.open = 0;
  return held;
}

let reporter: NodeJS.Timeout;
async function run(): Promise<void> {
  reporter = setInterval(() => send({ type: "stats", stats: snapshot() }), 1000);
  if (a.options.scenario === "churn") return churn();
  if (a.options.scenario === "fanout") installReceivers();
  await openAll();
  send({ type: "opened", stats: snapshot() });
  // Bounded wait for the coordinator's go: every worker opens first.
  const cmd = await nextCommand(30 * 60_000);
  if (cmd?.type === "hold") {
    await sleep(cmd.seconds * 1000);
    send({ type: "held", stats: snapshot(), held: stats.open });
    const held = closeAll();
    await sleep(500);
    finish(held);
  } else if (cmd?.type === "send") {
    await fanout(cmd.seconds);
    const held = closeAll();
    await sleep(500);
    finish(held);
  } else {
    closeAll();
    finish();
  }
}

function finish(held?: number): void {
  clearInterval(reporter);
  send({ type: "done", stats: snapshot(), held });
  setTimeout(() => process.exit(0), 200);
}

function installReceivers(): void {
  // One shared function for every receiver: nothing per socket but the socket.
  onDelivery = (payload: unknown) => {
    const data = (payload as { data?: { t?: number; s?: number } })?.data;
    const t = data?.t;
    if (typeof t !== "number") return;
    const now = nowMs();
    stats.deliveries++;
    if (typeof data!.s === "number") deliveredBy[data!.s] = (deliveredBy[data!.s] ?? 0) + 1;
    stats.lastDeliveryAt = now;
    hist.record(now - t);
  };
}
let onDelivery: ((payload: unknown) => void) | undefined;

// Exact accounting, message by message: a room's sender and receivers live in
// this worker, so each message's expected and actual deliveries are known
// here. Only a message the gateway acknowledged can be lost; one whose ack
// never came (sender closed, timeout) is "unconfirmed", not lost.
const expectedBy: number[] = [];
const deliveredBy: number[] = [];
const confirmedSeqs: number[] = [];
function lostSoFar(): number {
  let lost = 0;
  for (const seq of confirmedSeqs) lost += Math.max(0, expectedBy[seq] - (deliveredBy[seq] ?? 0));
  return lost;
}

/** Sends for `seconds` at this worker's rate (or ack-paced), then waits for the deliveries to drain. */
async function fanout(seconds: number): Promise<void> {
  const o = a.options;
  const deliver = (name: string, payload: unknown) => {
    if (name === "call:event") onDelivery?.(payload);
  };
  for (const c of conns) if (c) c.onEvent = deliver;
  const firstRoom = Math.floor(a.first / o.roomSize);
  const rooms: Array<{ sender: SioConnection; callId: string; receivers: number }> = [];
  for (let slot = 0; slot < a.count; slot += o.roomSize) {
    const sender = conns[slot];
    const receivers = conns.slice(slot + 1, slot + o.roomSize).filter((c) => c?.isOpen).length;
    if (sender && receivers > 0) rooms.push({ sender, callId: callId(firstRoom + slot / o.roomSize), receivers });
  }
  const filler = "x".repeat(o.payloadBytes);
  let seq = 0;
  let pendingAcks = 0;
  let sending = true;
  const sendOne = (room: (typeof rooms)[number]): Promise<void> => {
    if (!room.sender.isOpen) return Promise.resolve();
    stats.sent++;
    const s = seq++;
    expectedBy[s] = room.receivers;
    pendingAcks++;
    const data = { t: nowMs(), s, f: filler };
    return room.sender.emitWithAck("call:event", { callId: room.callId, type: "loadtest", data }, o.ackTimeoutMs).then(
      ([ack]) => {
        pendingAcks--;
        const r = ack as { ok?: boolean; error?: { code?: string } } | undefined;
        if (r && r.ok === false) {
          stats.refused++;
          countError(`refused:${r.error?.code ?? "unknown"}`);
        } else {
          stats.acked++;
          stats.expected += room.receivers;
          confirmedSeqs.push(s);
        }
      },
      (err) => {
        pendingAcks--;
        stats.unconfirmed++;
        countError(err instanceof SioError ? err.kind : "send_error");
      },
    );
  };
  const began = Date.now();
  stats.firstSendAt = nowMs();
  const endAt = began + seconds * 1000;
  if (rooms.length > 0 && a.messageRate === "max") {
    const loop = async (room: (typeof rooms)[number]) => {
      while (sending && Date.now() < endAt && room.sender.isOpen) await sendOne(room);
    };
    await Promise.all(rooms.flatMap((room) => Array.from({ length: o.window }, () => loop(room))));
  } else if (rooms.length > 0) {
    const rate = a.messageRate as number;
    let sentHere = 0;
    let r = 0;
    while (Date.now() < endAt) {
      const due = Math.floor(((Date.now() - began) / 1000) * rate);
      for (; sentHere < due; sentHere++) void sendOne(rooms[r++ % rooms.length]);
      await sleep(2);
    }
  }
  sending = false;
  const drainUntil = Date.now() + o.drainSeconds * 1000;
  while ((pendingAcks > 0 || lostSoFar() > 0) && Date.now() < drainUntil) await sleep(100);
  stats.lost = lostSoFar();
}

/** Connect, join, leave, disconnect in a loop, `connections` loops at once, bounded by cycles and time. */
async function churn(): Promise<void> {
  const o = a.options;
  const endAt = Date.now() + o.durationSeconds * 1000;
  const loop = async (slot: number) => {
    const index = a.first + slot;
    const target = o.targets[index % o.targets.length];
    for (let cycle = 0; cycle < o.cycles && Date.now() < endAt; cycle++) {
      const began = nowMs();
      let conn: SioConnection | undefined;
      try {
        conn = await SioConnection.open({ url: target, namespace: o.namespace, auth: auth(index), localAddress: a.localAddress, tlsSkipHostname: o.tlsSkipHostname, timeoutMs: o.connectTimeoutMs });
        stats.open++;
        const room = { callId: callId(Math.floor(index / o.roomSize)) };
        const [joined] = (await conn.emitWithAck("join", room, o.ackTimeoutMs)) as [{ ok?: boolean; error?: { code?: string } }];
        if (joined?.ok === false) countError(`join_refused:${joined.error?.code}`);
        const [left] = (await conn.emitWithAck("leave", room, o.ackTimeoutMs)) as [{ ok?: boolean; error?: { code?: string } }];
        if (left?.ok === false) countError(`leave_refused:${left.error?.code}`);
        stats.cycles++;
        stats.opened++;
        hist.record(nowMs() - began);
      } catch (err) {
        countError(err instanceof SioError ? err.kind : "error");
        await sleep(100);
      } finally {
        if (conn) {
          conn.close();
          stats.open--;
        }
      }
    }
  };
  const loops: Promise<void>[] = [];
  for (let slot = 0; slot < a.count && Date.now() < endAt; slot++) {
    loops.push(loop(slot));
    await sleep(1000 / a.rate);
  }
  await Promise.all(loops);
  finish();
}
