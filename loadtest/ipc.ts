/** Messages between the load-test coordinator and its worker processes. */
import type { LoadtestOptions } from "./options.js";

export interface WorkerAssignment {
  index: number;
  options: LoadtestOptions;
  /** Global connection indices [first, first + count) belong to this worker (whole rooms). */
  first: number;
  count: number;
  /** Connections per second for this worker. */
  rate: number;
  /** fanout: this worker's share of the message rate. */
  messageRate: number | "max";
  localAddress: string | undefined;
  /** Unique per run: call ids are `<runId>-<room>` so runs never share rooms. */
  runId: string;
}

export interface WorkerStats {
  /** Connections that completed the Socket.IO connect and the join. */
  opened: number;
  open: number;
  dropped: number;
  errors: Record<string, number>;
  sent: number;
  acked: number;
  refused: number;
  deliveries: number;
  /** Deliveries due for the messages the gateway acknowledged. */
  expected: number;
  /** Of those, not delivered by the end of the drain. */
  lost: number;
  /** Sends whose ack never came (sender closed, ack timeout): neither expected nor lost. */
  unconfirmed: number;
  cycles: number;
  /** fanout: epoch ms of this worker's first send and of its last delivery (0 when none). */
  firstSendAt: number;
  lastDeliveryAt: number;
  /** Ms since the worker started when the last connection of the open phase succeeded. */
  lastOpenAt: number;
  /** Open connections per target; after the hold or drain, what each target held at its end. */
  openByTarget: Record<string, number>;
  rss: number;
  /** Latency histogram counts since the previous report, as [bucket, count] pairs. */
  histDelta: Array<[number, number]>;
  histMax: number;
}

export type ToWorker =
  | { type: "start"; assignment: WorkerAssignment }
  | { type: "hold"; seconds: number }
  | { type: "send"; seconds: number }
  | { type: "stop" };

export type FromWorker =
  | { type: "stats"; stats: WorkerStats }
  | { type: "opened"; stats: WorkerStats }
  | { type: "held"; stats: WorkerStats; held: number }
  | { type: "done"; stats: WorkerStats; held?: number };
