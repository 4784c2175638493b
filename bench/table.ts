/** The side-by-side table: stock vs gateway, with the ratio, and the broker load per shard. */
import type { BenchResult } from "./result.js";

const kb = (b: number | undefined) => (b === undefined ? "-" : (b / 1024).toFixed(2));
const int = (v: number | undefined) => (v === undefined ? "-" : Math.round(v).toLocaleString("en"));
const ms = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || a === 0 ? "-" : `${(b / a).toFixed(2)}x`);

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
    ["fan-out deliveries/s at saturation", fs?.saturation.fanout?.deliveriesPerSec, fg?.saturation.fanout?.deliveriesPerSec, int],
    ["  server CPU per delivery, µs", fs?.cpuMicrosPerDelivery, fg?.cpuMicrosPerDelivery, int],
    [`latency p50 at ${int(fs?.moderate.fanout?.deliveriesPerSec ?? fg?.moderate.fanout?.deliveriesPerSec)} deliveries/s, ms`, fs?.moderate.latencyMs.p50, fg?.moderate.latencyMs.p50, ms],
    ["latency p99, ms", fs?.moderate.latencyMs.p99, fg?.moderate.latencyMs.p99, ms],
    ["messages lost (saturation + moderate)", sumLost(fs), sumLost(fg), int],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = [`${"".padEnd(w)}  ${"stock".padStart(10)}  ${"gateway".padStart(10)}  ${"gateway/stock".padStart(13)}`];
  for (const [name, a, b, f] of rows) lines.push(`${name.padEnd(w)}  ${f(a).padStart(10)}  ${f(b).padStart(10)}  ${ratio(a, b).padStart(13)}`);

  const modes = Object.keys(r.broker);
  if (modes.length > 0) {
    const shards = r.broker[modes[0]].length;
    lines.push("", `broker load for the same fan-out work (${r.settings.moderateRate} messages/s for ${r.settings.moderateSeconds} s, rooms of ${r.settings.roomSize}), per shard:`);
    const mw = Math.max(...modes.map((m) => m.length), 8);
    lines.push(`${"".padEnd(mw)}  ${"commands".padEnd(8 * shards + 8)}${"CPU s".padEnd(7 * shards + 4)}bus publish msgs received`);
    for (const m of modes) {
      const c = r.broker[m];
      lines.push(
        `${m.padEnd(mw)}  ${c.map((x) => int(x.commands).padStart(7)).join(" ").padEnd(8 * shards + 8)}${c.map((x) => x.cpuSeconds.toFixed(2).padStart(6)).join(" ").padEnd(7 * shards + 4)}${c.map((x) => int(x.busPublishReceived)).join(" ")}`,
      );
    }
  }
  return lines.join("\n");
}

function sumLost(f: BenchResult["fanout"]["stock"]): number | undefined {
  if (!f) return undefined;
  return (f.saturation.fanout?.lost ?? 0) + (f.moderate.fanout?.lost ?? 0);
}
