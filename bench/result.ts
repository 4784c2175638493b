/** The shape of bench/results/<date>.json, read back by the planner and the table. */
import type { LoadtestResult } from "../loadtest/fleet.js";
import type { ShardCounters } from "./broker.js";
import type { Machine } from "./machine.js";
import type { Setup } from "./server-fleet.js";

export interface IdleFigures {
  processes: number;
  connectionsPerProcess: number[];
  baseline: Array<{ heapUsed: number; rss: number }>;
  loaded: Array<{ heapUsed: number; rss: number }>;
  heapPerConnectionBytes: number;
  rssPerConnectionBytes: number;
  /** Per shard, over `brokerSeconds` of the hold: the broker's cost of holding idle connections. */
  brokerWhileHolding: ShardCounters[];
  brokerSeconds: number;
  loadtest: LoadtestResult;
}
export interface FanoutFigures {
  saturation: LoadtestResult;
  serverCpuSecondsAtSaturation: number;
  cpuMicrosPerDelivery: number;
  moderate: LoadtestResult;
  /** Per shard, for the moderate run's send phase, less the shards' idle activity. */
  broker: ShardCounters[];
  brokerRaw: ShardCounters[];
}
export interface BenchResult {
  kind: "switchboard-bench";
  version: 1;
  scale: string;
  startedAt: string;
  seconds: number;
  machine: Machine;
  authentication: string;
  settings: Record<string, number>;
  idle: Partial<Record<Setup, IdleFigures>>;
  fanout: Partial<Record<Setup, FanoutFigures>>;
  /** By setup and subscription mode ("gateway dynamic", "stock static", ...): per shard, less idle activity. */
  broker: Record<string, ShardCounters[]>;
  /** The same before the idle correction. */
  brokerRaw: Record<string, ShardCounters[]>;
}

