/**
 * The coordinator: splits a load test over worker processes (whole rooms per
 * worker, at most `socketsPerWorker()` sockets each, one loopback source
 * address each), releases them phase by phase (open, then hold or send),
 * merges their counters every second into a progress line and a timeline,
 * and returns the result. Bounded: workers that overrun are killed.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LatencyHistogram } from "./histogram.js";
import type { FromWorker, ToWorker, WorkerAssignment, WorkerStats } from "./ipc.js";
import { isLoopback, socketsPerWorker, type LoadtestOptions } from "./options.js";

export interface TimelinePoint {
  t: number;
  open: number;
  errors: number;
  deliveriesPerSec: number;
  p99Ms: number | undefined;
}

export interface LoadtestResult {
  label: string;
  scenario: LoadtestOptions["scenario"];
  options: Omit<LoadtestOptions, "token" | "tokenSecret"> & { auth: "none" | "token" | "minted" };
  startedAt: string;
  seconds: number;
  workers: number;
  workerRssMaxMiB: number;
  connections: {
    target: number;
    reached: number;
    /** Open at the end of the hold (idle) or of the drain (fanout). */
    held: number | undefined;
    dropped: number;
    connectSeconds: number;
    connectRate: number;
    byTarget: Record<string, number>;
  };
  errors: Record<string, number>;
  fanout?: { sent: number; acked: number; refused: number; unconfirmed: number; expected: number; deliveries: number; lost: number; sendSeconds: number; deliveriesPerSec: number };
  churn?: { cycles: number; cyclesPerSec: number };
  latencyMs: { count: number; p50?: number; p90?: number; p99?: number; p999?: number; max?: number };
  histogram: Array<{ lowMs: number; highMs: number; count: number }>;
  timeline: TimelinePoint[];
}

export interface LoadtestHooks {
  progress?: (line: string) => void;
  /** idle: called once every worker holds its connections; the hold runs meanwhile and waits for it. */
  holding?: () => Promise<void>;
  /** fanout: called after every member joined, before the first send, and after the drain. */
  beforeSend?: () => Promise<void>;
  afterSend?: () => Promise<void>;
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const WORKER = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url));

export function planWorkers(o: LoadtestOptions): number {
  const perWorker = socketsPerWorker();
  const needed = Math.ceil(o.connections / perWorker);
  return Math.max(1, o.workers ?? needed, needed);
}

export async function runLoadtest(o: LoadtestOptions, hooks: LoadtestHooks = {}): Promise<LoadtestResult> {
  const progress = hooks.progress ?? (() => {});
  const nWorkers = planWorkers(o);
  const runId = `lt${randomBytes(3).toString("hex")}`;
  const totalRooms = Math.ceil(o.connections / o.roomSize);
  const loopback = o.sourceAddresses && o.targets.every(isLoopback);
  const assignments: WorkerAssignment[] = [];
  let roomCursor = 0;
  for (let w = 0; w < nWorkers; w++) {
    const rooms = Math.floor(totalRooms / nWorkers) + (w < totalRooms % nWorkers ? 1 : 0);
    const first = roomCursor * o.roomSize;
    const count = Math.min(o.connections, (roomCursor + rooms) * o.roomSize) - first;
    roomCursor += rooms;
    assignments.push({
      index: w,
      options: o,
      first,
      count,
      rate: Math.max(1, (o.rate * count) / o.connections),
      messageRate: o.messageRate === "max" ? "max" : (o.messageRate * rooms) / totalRooms,
      // 127.0.0.2, .3, ...: each source address has its own 28k ephemeral ports.
      localAddress: loopback ? `127.0.${Math.floor((w + 2) / 250)}.${((w + 2) % 250) + 1}` : undefined,
      runId,
    });
  }

  const started = Date.now();
  const latest: Array<WorkerStats | undefined> = new Array(nWorkers);
  const total = new LatencyHistogram();
  const interval = new LatencyHistogram();
  const timeline: TimelinePoint[] = [];
  const held: Array<number | undefined> = new Array(nWorkers);
  const phase = { opened: new Set<number>(), done: new Set<number>() };
  let lastDeliveries = 0;
  let phaseWaiter: (() => void) | undefined;
  const children: ChildProcess[] = [];

  const absorb = (w: number, s: WorkerStats) => {
    latest[w] = s;
    total.addSparse(s.histDelta, s.histMax);
    interval.addSparse(s.histDelta, s.histMax);
  };
  const sum = (f: (s: WorkerStats) => number) => latest.reduce((acc, s) => acc + (s ? f(s) : 0), 0);

  for (const assignment of assignments) {
    const child = fork(WORKER, [], {
      cwd: HERE,
      execArgv: WORKER.endsWith(".ts") ? ["--import", "tsx"] : [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(child);
    child.on("message", (m: FromWorker) => {
      absorb(assignment.index, m.stats);
      if (m.type === "opened") phase.opened.add(assignment.index);
      if (m.type === "held") held[assignment.index] = m.held;
      if (m.type === "done") {
        if (m.held !== undefined && held[assignment.index] === undefined) held[assignment.index] = m.held;
        phase.done.add(assignment.index);
      }
      phaseWaiter?.();
    });
    child.on("exit", () => {
      phase.done.add(assignment.index);
      phase.opened.add(assignment.index);
      phaseWaiter?.();
    });
    child.send({ type: "start", assignment } satisfies ToWorker);
  }

  const ticker = setInterval(() => {
    const open = sum((s) => s.open);
    const errors = sum((s) => Object.entries(s.errors).reduce((a, [k, v]) => a + (k === "dropped" ? 0 : v), 0)) + sum((s) => s.dropped);
    const deliveries = sum((s) => (o.scenario === "churn" ? s.cycles : s.deliveries));
    const point: TimelinePoint = {
      t: Math.round((Date.now() - started) / 100) / 10,
      open,
      errors,
      deliveriesPerSec: deliveries - lastDeliveries,
      p99Ms: interval.quantile(0.99),
    };
    lastDeliveries = deliveries;
    interval.reset();
    timeline.push(point);
    progress(
      `[${o.label || o.scenario}] t=${point.t.toFixed(0)}s open ${open.toLocaleString("en")}/${o.connections.toLocaleString("en")}` +
        ` errors ${errors}` +
        (o.scenario === "churn" ? ` cycles/s ${point.deliveriesPerSec}` : ` deliveries/s ${point.deliveriesPerSec.toLocaleString("en")}`) +
        ` p99 ${point.p99Ms === undefined ? "-" : `${point.p99Ms.toFixed(1)} ms`}`,
    );
  }, 1000);

  const waitFor = async (set: Set<number>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (set.size < nWorkers && Date.now() < deadline) {
      await new Promise<void>((r) => {
        phaseWaiter = r;
        setTimeout(r, 1000);
      });
    }
    return set.size >= nWorkers;
  };
  const broadcast = (m: ToWorker) => children.forEach((c) => c.connected && c.send(m));
  const openBudgetMs = (o.connections / o.rate) * 2000 + 30_000 + o.connectTimeoutMs * 2;

  let connectSeconds = 0;
  let sendSeconds = 0;
  try {
    if (o.scenario === "churn") {
      await waitFor(phase.done, o.durationSeconds * 1000 + o.connectTimeoutMs + o.ackTimeoutMs * 2 + 30_000);
    } else {
      await waitFor(phase.opened, openBudgetMs);
      connectSeconds = Math.max(...latest.map((s) => (s ? s.lastOpenAt : 0))) / 1000;
      if (o.scenario === "idle") {
        // With nothing open there is nothing to hold: the run ends now with its errors.
        const open = sum((s) => s.open);
        const holdSeconds = open > 0 ? o.holdSeconds : 0;
        broadcast({ type: "hold", seconds: holdSeconds });
        if (open > 0) progress(`[${o.label || o.scenario}] holding ${open.toLocaleString("en")} connections for ${holdSeconds} s`);
        const during = hooks.holding?.();
        await waitFor(phase.done, holdSeconds * 1000 + 60_000);
        await during;
      } else {
        await hooks.beforeSend?.();
        const sendStarted = Date.now();
        broadcast({ type: "send", seconds: o.durationSeconds });
        await waitFor(phase.done, (o.durationSeconds + o.drainSeconds) * 1000 + o.ackTimeoutMs + 60_000);
        sendSeconds = (Date.now() - sendStarted) / 1000;
        await hooks.afterSend?.();
      }
    }
  } finally {
    clearInterval(ticker);
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  }

  const errors: Record<string, number> = {};
  for (const s of latest) for (const [k, v] of Object.entries(s?.errors ?? {})) errors[k] = (errors[k] ?? 0) + v;
  const byTarget: Record<string, number> = {};
  for (const s of latest) for (const [k, v] of Object.entries(s?.openByTarget ?? {})) byTarget[k] = (byTarget[k] ?? 0) + v;
  const reached = sum((s) => s.opened);
  const heldTotal = held.every((h) => h === undefined) ? undefined : held.reduce<number>((a, h) => a + (h ?? 0), 0);
  const { token, tokenSecret, ...shown } = o;
  const result: LoadtestResult = {
    label: o.label,
    scenario: o.scenario,
    options: { ...shown, auth: token ? "token" : tokenSecret ? "minted" : "none" },
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    workers: nWorkers,
    workerRssMaxMiB: Math.round(Math.max(...latest.map((s) => s?.rss ?? 0)) / 2 ** 20),
    connections: {
      target: o.connections,
      reached,
      held: heldTotal,
      dropped: sum((s) => s.dropped),
      connectSeconds,
      connectRate: connectSeconds > 0 ? Math.round(reached / connectSeconds) : 0,
      byTarget,
    },
    errors,
    latencyMs: {
      count: total.total,
      p50: total.quantile(0.5),
      p90: total.quantile(0.9),
      p99: total.quantile(0.99),
      p999: total.quantile(0.999),
      max: total.total ? total.max : undefined,
    },
    histogram: total.buckets(),
    timeline,
  };
  if (o.scenario === "fanout") {
    const deliveries = sum((s) => s.deliveries);
    const expected = sum((s) => s.expected);
    // From the first send to the last delivery: a backlog that drains late
    // stretches the window instead of inflating the rate.
    const firstSend = Math.min(...latest.map((s) => s?.firstSendAt || Infinity));
    const lastDelivery = Math.max(...latest.map((s) => s?.lastDeliveryAt ?? 0));
    const activeSeconds = Number.isFinite(firstSend) && lastDelivery > firstSend ? (lastDelivery - firstSend) / 1000 : sendSeconds;
    result.fanout = {
      sent: sum((s) => s.sent),
      acked: sum((s) => s.acked),
      refused: sum((s) => s.refused),
      unconfirmed: sum((s) => s.unconfirmed),
      expected,
      deliveries,
      lost: sum((s) => s.lost),
      sendSeconds: Math.round(activeSeconds * 10) / 10,
      deliveriesPerSec: Math.round(deliveries / activeSeconds),
    };
  }
  if (o.scenario === "churn") {
    const cycles = sum((s) => s.cycles);
    result.churn = { cycles, cyclesPerSec: Math.round(cycles / Math.max(1, result.seconds)) };
  }
  return result;
}
