/** The side-by-side table: stock vs gateway, with the ratio, and the broker load per shard. */
import type { ShardCounters } from "./broker.js";
import type { BenchResult } from "./result.js";

const kb = (b: number | undefined) => (b === undefined ? "-" : (b / 1024).toFixed(2));
const int = (v: number | undefined) => (v === undefined ? "-" : Math.round(v).toLocaleString("en"));
const ms = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || a === 0 ? "-" : b / a > 100 ? ">100x" : `${(b / a).toFixed(2)}x`;

export function benchTable(r: BenchResult): string {
  const s = r.idle.stock;
  const g = r.idle.gateway;
  const fs = r.fanout.stock;
  const fg = r.fanout.gateway;
  const rows: Array<[string, number | undefined, number | undefined, (v: number | undefined) => string]> = [
    [`heap per idle connection, KB (${int(s?.connectionsPerProcess[0])}+/process)`, s?.heapPerConnectionBytes, g?.heapPerConnectionBytes, kb],
    ["RSS per idle connection, KB", s?.rssPerConnectionBytes, g?.rssPerConnectionBytes, kb],
    [`connections held for ${r.settings.holdSeconds} s by ${r.settings.processes} processes`, s?.loadtest.connections.held, g?.loadtest.connections.held, int],
    ["  dropped during the hold", s?.loadtest.connections.dropped, g?.loadtest.connections.dropped, int],
    ["  connect rate, /s", s?.loadtest.connections.connectRate, g?.loadtest.connections.connectRate, int],
    ["  broker commands/s while holding (all shards)", brokerRate(s, "commands"), brokerRate(g, "commands"), int],
    ["  broker CPU ms/s while holding (all shards)", brokerRate(s, "cpuSeconds", 1000), brokerRate(g, "cpuSeconds", 1000), int],
    ["fan-out deliveries/s at saturation", fs?.saturation.fanout?.deliveriesPerSec, fg?.saturation.fanout?.deliveriesPerSec, int],
    ["  server CPU per delivery, µs", fs?.cpuMicrosPerDelivery, fg?.cpuMicrosPerDelivery, int],
    [`latency p50 at ${int(fs?.moderate.fanout?.deliveriesPerSec ?? fg?.moderate.fanout?.deliveriesPerSec)} deliveries/s, ms`, fs?.moderate.latencyMs.p50, fg?.moderate.latencyMs.p50, ms],
    ["latency p99, ms", fs?.moderate.latencyMs.p99, fg?.moderate.latencyMs.p99, ms],
    ["messages lost (acked, not delivered)", sumLost(fs), sumLost(fg), int],
    ["sends refused or unconfirmed (saturation)", refusedOrUnconfirmed(fs), refusedOrUnconfirmed(fg), int],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = [`${"".padEnd(w)}  ${"stock".padStart(10)}  ${"gateway".padStart(10)}  ${"gateway/stock".padStart(13)}`];
  for (const [name, a, b, f] of rows) lines.push(`${name.padEnd(w)}  ${f(a).padStart(10)}  ${f(b).padStart(10)}  ${ratio(a, b).padStart(13)}`);

  const modes = Object.keys(r.broker);
  if (modes.length > 0) {
    lines.push("", `broker load per shard for the same fan-out work (${r.settings.moderateRate} messages/s for ${r.settings.moderateSeconds} s, rooms of ${r.settings.roomSize}), CPU less idle activity:`);
    const cols: Array<[string, (c: ShardCounters) => string]> = [
      ["(S)PUBLISH", (c) => int(c.spublishCalls + c.publishCalls)],
      ["CPU ms", (c) => int(c.cpuSeconds * 1000)],
      ["bus msgs in", (c) => int(c.busPublishReceived)],
      ["all commands (raw)", (c) => int(c.commands)],
    ];
    const mw = Math.max(...modes.map((m) => m.length));
    // Raw commands include the background (leases, probes) the idle correction cannot separate reliably.
    const cell = (m: string, f: (c: ShardCounters) => string, i?: number) => (i === 3 ? (r.brokerRaw?.[m] ?? r.broker[m]) : r.broker[m]).map(f).join(" / ");
    const widths = cols.map(([h, f], i) => Math.max(h.length, ...modes.map((m) => cell(m, f, i).length)));
    lines.push(`${"".padEnd(mw)}  ${cols.map(([h], i) => h.padStart(widths[i])).join("  ")}`);
    for (const m of modes) lines.push(`${m.padEnd(mw)}  ${cols.map(([, f], i) => cell(m, f, i).padStart(widths[i])).join("  ")}`);
  }
  return lines.join("\n");
}

function sumLost(f: BenchResult["fanout"]["stock"]): number | undefined {
  if (!f) return undefined;
  return (f.saturation.fanout?.lost ?? 0) + (f.moderate.fanout?.lost ?? 0);
}

function refusedOrUnconfirmed(f: BenchResult["fanout"]["stock"]): number | undefined {
  if (!f?.saturation.fanout) return undefined;
  return f.saturation.fanout.refused + (f.saturation.fanout.unconfirmed ?? 0);
}

function brokerRate(f: BenchResult["idle"]["stock"], key: "commands" | "cpuSeconds", scale = 1): number | undefined {
  if (!f?.brokerWhileHolding?.length || !f.brokerSeconds) return undefined;
  return (f.brokerWhileHolding.reduce((a, c) => a + c[key], 0) * scale) / f.brokerSeconds;
}
