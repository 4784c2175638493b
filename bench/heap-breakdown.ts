/**
 * Where each idle connection's heap goes: one server process (stock or
 * gateway) on a fresh 3-shard cluster, a heap snapshot before and after N
 * idle connections joined to calls of 4, and the difference per connection by
 * kind of object. The tool to find the next cut, not a benchmark.
 *
 *   npx tsx bench/heap-breakdown.ts --setup gateway --connections 4000 --top 30
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runLoadtest } from "../loadtest/fleet.js";
import { parseLoadtestOptions } from "../loadtest/options.js";
import { DEV_AUDIENCE, DEV_AUTH_SECRET, DEV_ISSUER, freePorts, startRedisCluster } from "../topology/index.js";
import { heapByKind, readMemory } from "./inspector.js";
import { startServerFleet, type Setup } from "./server-fleet.js";

const { values } = parseArgs({ options: { setup: { type: "string", default: "gateway" }, connections: { type: "string", default: "4000" }, top: { type: "string", default: "30" } } });
const setup = values.setup as Setup;
if (setup !== "gateway" && setup !== "stock") throw new Error(`--setup ${setup}: expected gateway or stock`);
const n = Number(values.connections);

// Both setups get the same HS256 tokens (one per connection, minted by the load
// generator); the gateway verifies them (topology/dev-auth.ts), the stock server ignores them.
const AUTH = { "token-secret": DEV_AUTH_SECRET, "token-issuer": DEV_ISSUER, "token-audience": DEV_AUDIENCE };
const dir = mkdtempSync(join(tmpdir(), "switchboard-heap-"));
const redis = await startRedisCluster({ ports: await freePorts(3, { withClusterBus: true }), primaries: 3, dir });
const fleet = await startServerFleet(setup, 1, redis, { env: { DRAIN_SECONDS: "0", DRAIN_GRACE_SECONDS: "0" } });
try {
  const server = fleet.servers[0];
  await new Promise((r) => setTimeout(r, 1000));
  const before = await heapByKind(server.inspectPort);
  const base = await readMemory(server.inspectPort, server.process.child.pid!);
  let after = before;
  let loaded = base;
  await runLoadtest(parseLoadtestOptions({ url: server.url, scenario: "idle", connections: String(n), rate: "500", hold: "1", "room-size": "4", out: "", ...AUTH }), {
    holding: async () => {
      loaded = await readMemory(server.inspectPort, server.process.child.pid!);
      after = await heapByKind(server.inspectPort);
    },
  });
  console.log(`${setup}: ${n} idle connections, heap ${((loaded.heapUsed - base.heapUsed) / n / 1024).toFixed(2)} KB/connection, RSS ${((loaded.rss - base.rss) / n / 1024).toFixed(2)} KB/connection`);
  const rows = [...after.entries()]
    .map(([k, v]) => ({ kind: k, count: (v.count - (before.get(k)?.count ?? 0)) / n, bytes: (v.size - (before.get(k)?.size ?? 0)) / n }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, Number(values.top));
  for (const r of rows) console.log(`${r.bytes.toFixed(0).padStart(6)} B  ${r.count.toFixed(2).padStart(6)} x  ${r.kind}`);
} finally {
  await fleet.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
