/**
 * What every fault scenario shares: the topology it runs on, the report it
 * returns (what was measured, and each stated bound with its verdict), and
 * the table `npm run chaos` prints. The tests assert the bounds; the chaos
 * script prints them. One scenario module per fault, used by both.
 */
import type { Topology, TopologyOptions } from "../topology/index.js";
import { INSPECT_ARGS } from "./heap.js";

/**
 * 3 primaries with 1 replica each, as ElastiCache runs them. A node timeout
 * of 2 s (ElastiCache uses 15 s) keeps a failover test short; the bounds
 * below are stated in terms of it.
 */
export const NODE_TIMEOUT_MS = 2000;
/** The gateway's PUBLISH_TIMEOUT_MS in the fault topology (its default). */
export const PUBLISH_TIMEOUT_MS = 2000;

export const FAULT_TOPOLOGY: TopologyOptions = {
  gateways: 3,
  // NLB-like, honouring /readyz: clients of a draining gateway land elsewhere.
  balancer: true,
  primaries: 3,
  replicasPerPrimary: 1,
  nodeTimeoutMs: NODE_TIMEOUT_MS,
  // Receipts time out after 500 ms so the ack-memory scenario runs in seconds.
  gatewayEnv: { PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS), RECEIPT_TIMEOUT_MS: "500", DRAIN_SECONDS: "2", DRAIN_GRACE_SECONDS: "0" },
  // Each gateway's inspector on a free loopback port, to read its heap exactly (faults/heap.ts).
  gatewayNodeArgs: INSPECT_ARGS,
};

export interface Bound {
  /** What is bounded, e.g. "gap". */
  what: string;
  measured: string;
  /** The bound and why it is what it is. */
  limit: string;
  ok: boolean;
}

export interface FaultReport {
  fault: string;
  /** Longest time without deliveries caused by the fault, ms. */
  gapMs: number | undefined;
  sent: number;
  delivered: number;
  lost: number;
  bounds: Bound[];
  notes: string[];
}

export interface FaultContext {
  topo: Topology;
  log(line: string): void;
}

export interface FaultScenario {
  /** Short name for the table and the test title. */
  name: string;
  run(ctx: FaultContext): Promise<FaultReport>;
}

export function bound(what: string, measured: number | string, limit: string, ok: boolean): Bound {
  return { what, measured: String(measured), limit, ok };
}

export function formatReport(r: FaultReport): string {
  const lines = [
    `${r.fault}: gap ${r.gapMs ?? "-"} ms, sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}`,
    ...r.bounds.map((b) => `  ${b.ok ? "ok  " : "FAIL"} ${b.what}: ${b.measured} (bound: ${b.limit})`),
    ...r.notes.map((n) => `  note: ${n}`),
  ];
  return lines.join("\n");
}

export function formatTable(reports: FaultReport[]): string {
  const rows = [
    ["fault", "gap ms", "sent", "delivered", "lost", "bounds"],
    ...reports.map((r) => [
      r.fault,
      r.gapMs === undefined ? "-" : String(r.gapMs),
      String(r.sent),
      String(r.delivered),
      String(r.lost),
      r.bounds.every((b) => b.ok) ? "ok" : `FAIL: ${r.bounds.filter((b) => !b.ok).map((b) => b.what).join(", ")}`,
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 || i === 5 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
