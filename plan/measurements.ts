/**
 * The planner's measured inputs, read from a bench result (the latest
 * bench/results/*.json by default): memory per idle connection, server CPU
 * per delivery, and broker CPU per publish. Each can be overridden.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "../bench/result.js";

export interface Measurements {
  source: string;
  /** Bytes of RSS each idle connection adds to a gateway process. */
  rssPerConnection: number;
  heapPerConnection: number;
  /** RSS of a gateway process with no connections, bytes. */
  baseRss: number;
  /** Gateway CPU µs per delivery (publish, relay and socket write, all included), at saturation. */
  cpuMicrosPerDelivery: number;
  /** Broker CPU µs per SPUBLISH, with `subscribersPerPublish` gateways subscribed to the room. */
  brokerMicrosPerPublish: number;
  subscribersPerPublish: number;
  /** SPUBLISH commands per relayed message (the gateway publishes to /calls and to /dashboard). */
  publishesPerMessage: number;
  /**
   * Broker CPU µs per second per idle connection, over all shards: what the
   * gateway's per-connection Redis work costs (per-user connection leases
   * renewed on a timer), measured while the bench held its idle fleet.
   */
  brokerMicrosPerConnectionSecond: number;
  brokerCommandsPerConnectionSecond: number;
}

export const RESULTS_DIR = fileURLToPath(new URL("../bench/results/", import.meta.url));

/** The newest full-scale result, else the newest of any scale. */
export function latestResultFile(dir = RESULTS_DIR): string | undefined {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  } catch {
    return undefined;
  }
  const full = files.filter((f) => !/-small\.json$/.test(f));
  const pick = (full.length ? full : files).at(-1);
  return pick ? join(dir, pick) : undefined;
}

export function measurementsFrom(file: string): Measurements {
  const r = JSON.parse(readFileSync(file, "utf8")) as BenchResult;
  if (r.kind !== "switchboard-bench") throw new Error(`${file}: not a bench result (kind ${JSON.stringify(r.kind)})`);
  const idle = r.idle.gateway;
  const fan = r.fanout.gateway;
  if (!idle || !fan) throw new Error(`${file}: needs the gateway's idle and fanout figures (run npm run bench without --only)`);
  const shards = r.broker["gateway dynamic"] ?? fan.broker;
  const spublish = shards.reduce((a, s) => a + s.spublishCalls, 0);
  const brokerCpu = shards.reduce((a, s) => a + s.cpuSeconds, 0);
  const sent = fan.moderate.fanout?.acked ?? 0;
  const holdConns = idle.connectionsPerProcess.reduce((a, b) => a + b, 0);
  const holding = idle.brokerWhileHolding ?? [];
  const perConnSecond = (v: number) => (holdConns && idle.brokerSeconds ? v / idle.brokerSeconds / holdConns : 0);
  return {
    // Relative, so a plan pasted into docs names the file the same on every clone.
    source: relative(process.cwd(), file) || file,
    brokerMicrosPerConnectionSecond: Math.round(perConnSecond(holding.reduce((a, c) => a + c.cpuSeconds, 0) * 1e6) * 1000) / 1000,
    brokerCommandsPerConnectionSecond: Math.round(perConnSecond(holding.reduce((a, c) => a + c.commands, 0)) * 1000) / 1000,
    rssPerConnection: idle.rssPerConnectionBytes,
    heapPerConnection: idle.heapPerConnectionBytes,
    baseRss: Math.max(...idle.baseline.map((b) => b.rss)),
    cpuMicrosPerDelivery: fan.cpuMicrosPerDelivery,
    brokerMicrosPerPublish: spublish ? Math.round((brokerCpu * 1e6) / spublish) : 0,
    subscribersPerPublish: Math.min(r.settings.roomSize, r.settings.processes),
    publishesPerMessage: sent ? Math.round((spublish / sent) * 10) / 10 : 1,
  };
}
