/**
 * `npm run bench`: the stock Socket.IO setup and our gateway side by side, on
 * this machine, in one run, each as the same number of processes on the same
 * 3-shard Redis cluster, scenario by scenario (stock, then gateway):
 *   1. idle: a fleet holds `idleConnections` (>= 15,000 per process) for
 *      `holdSeconds`; heap and RSS per connection read after forced GCs;
 *   2. fan-out: deliveries/s at saturation (ack-paced senders), then latency
 *      at a fixed moderate rate, with per-shard broker counters around it;
 *   3. broker load for the same fan-out work with the stock server in
 *      `static` mode and with the classic (non-sharded) adapter.
 * Writes bench/results/<date>.json and prints the table. `--scale small`
 * runs the same steps with small counts, for development.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandArgs } from "../scripts/cli-args.js";
import { runLoadtest, type LoadtestResult } from "../loadtest/fleet.js";
import { parseLoadtestOptions } from "../loadtest/options.js";
import { DEV_AUDIENCE, DEV_AUTH_SECRET, DEV_ISSUER, freePorts, startRedisCluster, type RedisCluster } from "../topology/index.js";
import { diffShards, lessIdle, readShards, type ShardCounters } from "./broker.js";
import { describeMachine } from "./machine.js";
import { startServerFleet, type ServerFleet, type Setup } from "./server-fleet.js";
import type { BenchResult, FanoutFigures, IdleFigures } from "./result.js";
import { benchTable } from "./table.js";

const SCALES = {
  // 60,000 = 4 x 15,000: the issue's fleet target and its memory floor per process.
  full: { processes: 4, idleConnections: 60_000, idleRate: 700, holdSeconds: 60, settleSeconds: 10, rooms: 200, roomSize: 10, saturationSeconds: 10, moderateRate: 400, moderateSeconds: 15 },
  small: { processes: 2, idleConnections: 2_000, idleRate: 500, holdSeconds: 5, settleSeconds: 2, rooms: 100, roomSize: 10, saturationSeconds: 4, moderateRate: 100, moderateSeconds: 4 },
};
const USAGE = "[--scale full|small] [--only idle,fanout,broker] [--set key=value,...] [--verbose]";
const values = parseCommandArgs(
  "bench",
  {
    scale: { type: "string", default: "full" },
    only: { type: "string", default: "idle,fanout,broker" },
    // Override single settings, e.g. --set idleConnections=24000,holdSeconds=20
    set: { type: "string", default: "" },
    verbose: { type: "boolean", default: false },
  },
  USAGE,
);
const scaleName = values.scale as keyof typeof SCALES;
if (!SCALES[scaleName]) {
  process.stderr.write(`npm run bench: --scale ${JSON.stringify(values.scale)}: expected full or small\n`);
  process.exit(2);
}
const S: Record<keyof (typeof SCALES)["full"], number> = { ...SCALES[scaleName] };
for (const pair of values.set!.split(",").filter(Boolean)) {
  const [key, raw] = pair.split("=");
  if (!(key in S) || !/^\d+$/.test(raw ?? "")) {
    process.stderr.write(`npm run bench: --set ${pair}: expected key=integer with key one of ${Object.keys(S).join(", ")}\n`);
    process.exit(2);
  }
  S[key as keyof typeof S] = Number(raw);
}
const only = new Set(values.only!.split(","));
const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The whole bench is bounded: past this, everything is stopped.
const WATCHDOG_MS = 30 * 60_000;

const machine = describeMachine();
const started = Date.now();
const result: BenchResult = {
  kind: "switchboard-bench",
  version: 1,
  scale: values.set ? `${scaleName} (${values.set})` : scaleName,
  startedAt: new Date(started).toISOString(),
  seconds: 0,
  machine,
  authentication: "gateway: HS256 JWT verified at the handshake (iss, aud, tenant), per-user connection limit; stock: none (tokens sent, ignored)",
  settings: S,
  idle: {},
  fanout: {},
  broker: {},
  brokerRaw: {},
};

// Both setups get the same HS256 tokens (one per connection, minted by the load
// generator); the gateway verifies them (topology/dev-auth.ts), the stock server ignores them.
const AUTH = { "token-secret": DEV_AUTH_SECRET, "token-issuer": DEV_ISSUER, "token-audience": DEV_AUDIENCE };
const dir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
let redis: RedisCluster | undefined;
let fleet: ServerFleet | undefined;
const watchdog = setTimeout(() => {
  log(`bench: still running after ${WATCHDOG_MS / 60_000} min: stopping everything`);
  void cleanup().then(() => process.exit(1));
}, WATCHDOG_MS);
async function cleanup(): Promise<void> {
  await fleet?.stop().catch(() => {});
  fleet = undefined;
  await redis?.stop().catch(() => {});
  redis = undefined;
  rmSync(dir, { recursive: true, force: true });
}
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
process.on("SIGTERM", () => void cleanup().then(() => process.exit(143)));

const progress = (line: string) => {
  // One progress line per 5 s keeps the log readable over a 15-minute run.
  if (values.verbose || / t=\d*[05]s /.test(line) || !/ t=\d+s /.test(line)) log(`  ${line}`);
};

async function withFleet<T>(setup: Setup, env: Record<string, string>, body: (f: ServerFleet) => Promise<T>): Promise<T> {
  // DRAIN_*=0: the bench stops its servers at once between runs.
  fleet = await startServerFleet(setup, S.processes, redis!, { env: { DRAIN_SECONDS: "0", DRAIN_GRACE_SECONDS: "0", ...env }, onLine: values.verbose ? log : undefined });
  try {
    return await body(fleet);
  } finally {
    await fleet.stop();
    fleet = undefined;
    await sleep(2000);
  }
}

async function idle(setup: Setup): Promise<IdleFigures> {
  return withFleet(setup, {}, async (f) => {
    await sleep(1000);
    const baseline = await f.memory();
    let loaded: Awaited<ReturnType<ServerFleet["memory"]>> = [];
    const ports = redis!.nodes.map((n) => n.port);
    let brokerWhileHolding: ShardCounters[] = [];
    let brokerSeconds = 0;
    const options = parseLoadtestOptions({
      url: f.urls.join(","),
      scenario: "idle",
      connections: String(S.idleConnections),
      rate: String(S.idleRate),
      hold: String(S.holdSeconds),
      "room-size": "4",
      out: "",
      label: `idle-${setup}`,
      ...AUTH,
    });
    const loadtest = await runLoadtest(options, {
      progress,
      holding: async () => {
        // What holding idle connections costs the broker (per-user connection
        // leases, health probes, metrics polls), over the settle window.
        const before = readShards(redis!, ports);
        const t0 = Date.now();
        await sleep(S.settleSeconds * 1000);
        brokerWhileHolding = diffShards(before, readShards(redis!, ports));
        brokerSeconds = (Date.now() - t0) / 1000;
        loaded = await f.memory();
      },
    });
    const perProcess = f.urls.map((u) => loadtest.connections.byTarget[u] ?? 0);
    const conns = perProcess.reduce((a, b) => a + b, 0);
    const sumDelta = (k: "heapUsed" | "rss") => loaded.reduce((a, m, i) => a + (m[k] - baseline[i][k]), 0);
    return {
      processes: S.processes,
      connectionsPerProcess: perProcess,
      baseline: baseline.map(({ heapUsed, rss }) => ({ heapUsed, rss })),
      loaded: loaded.map(({ heapUsed, rss }) => ({ heapUsed, rss })),
      heapPerConnectionBytes: conns ? Math.round(sumDelta("heapUsed") / conns) : 0,
      rssPerConnectionBytes: conns ? Math.round(sumDelta("rss") / conns) : 0,
      brokerWhileHolding,
      brokerSeconds,
      loadtest,
    };
  });
}

function fanoutOptions(f: ServerFleet, label: string, rate: number | "max", seconds: number) {
  return parseLoadtestOptions({
    url: f.urls.join(","),
    scenario: "fanout",
    connections: String(S.rooms * S.roomSize),
    rate: "1000",
    "room-size": String(S.roomSize),
    "message-rate": String(rate),
    window: "2",
    duration: String(seconds),
    // Two workers: one load-generator event loop would be the bottleneck at saturation.
    workers: "2",
    drain: "10",
    out: "",
    label,
    ...AUTH,
  });
}

/**
 * The same fan-out work at a moderate rate, with each shard's counters read
 * around the send phase, less what the shards did over an idle window of the
 * same fleet just before (Redis spends CPU on its cron and cluster gossip).
 */
async function moderate(f: ServerFleet, label: string): Promise<{ loadtest: LoadtestResult; broker: ShardCounters[]; brokerRaw: ShardCounters[] }> {
  const ports = redis!.nodes.map((n) => n.port);
  const IDLE_SECONDS = 5;
  let before: ShardCounters[] = [];
  let idleCounters: ShardCounters[] = [];
  let sendStarted = 0;
  let brokerRaw: ShardCounters[] = [];
  let broker: ShardCounters[] = [];
  const loadtest = await runLoadtest(fanoutOptions(f, label, S.moderateRate, S.moderateSeconds), {
    progress,
    beforeSend: async () => {
      const idleStart = readShards(redis!, ports);
      await sleep(IDLE_SECONDS * 1000);
      before = readShards(redis!, ports);
      idleCounters = diffShards(idleStart, before);
      sendStarted = Date.now();
    },
    afterSend: async () => {
      brokerRaw = diffShards(before, readShards(redis!, ports));
      broker = lessIdle(brokerRaw, idleCounters, IDLE_SECONDS, (Date.now() - sendStarted) / 1000);
    },
  });
  return { loadtest, broker, brokerRaw };
}

async function fanout(setup: Setup): Promise<FanoutFigures> {
  return withFleet(setup, {}, async (f) => {
    let cpuBefore: number[] = [];
    let cpuSeconds = 0;
    const saturation = await runLoadtest(fanoutOptions(f, `saturation-${setup}`, "max", S.saturationSeconds), {
      progress,
      beforeSend: async () => {
        cpuBefore = f.cpuSeconds();
      },
      afterSend: async () => {
        cpuSeconds = f.cpuSeconds().reduce((a, c, i) => a + c - cpuBefore[i], 0);
      },
    });
    const m = await moderate(f, `moderate-${setup}`);
    const deliveries = saturation.fanout?.deliveries ?? 0;
    return {
      saturation,
      serverCpuSecondsAtSaturation: Math.round(cpuSeconds * 100) / 100,
      cpuMicrosPerDelivery: deliveries ? Math.round((cpuSeconds * 1e6) / deliveries) : 0,
      moderate: m.loadtest,
      broker: m.broker,
      brokerRaw: m.brokerRaw,
    };
  });
}

try {
  log(`bench (${scaleName}): ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}, redis ${machine.redis}, load average ${machine.loadAverageAtStart.join(" ")}`);
  const ports = await freePorts(3, { withClusterBus: true });
  redis = await startRedisCluster({ ports, primaries: 3, dir });
  log(`redis cluster: 3 primaries on ${ports.join(", ")}`);
  for (const setup of ["stock", "gateway"] as const) {
    if (!only.has("idle")) break;
    log(`idle: ${setup}, ${S.processes} processes, ${S.idleConnections.toLocaleString("en")} connections at ${S.idleRate}/s, hold ${S.holdSeconds} s`);
    result.idle[setup] = await idle(setup);
  }
  for (const setup of ["stock", "gateway"] as const) {
    if (!only.has("fanout")) break;
    log(`fanout: ${setup}, ${S.rooms} rooms of ${S.roomSize}: saturation, then ${S.moderateRate} messages/s`);
    result.fanout[setup] = await fanout(setup);
    result.broker[`${setup} dynamic`] = result.fanout[setup]!.broker;
    result.brokerRaw[`${setup} dynamic`] = result.fanout[setup]!.brokerRaw;
  }
  for (const mode of ["static", "classic"] as const) {
    if (!only.has("broker")) break;
    log(`broker: stock server with the ${mode} adapter, ${S.moderateRate} messages/s`);
    const m = await withFleet("stock", { STOCK_ADAPTER: mode }, (f) => moderate(f, `broker-${mode}`));
    result.broker[`stock ${mode}`] = m.broker;
    result.brokerRaw[`stock ${mode}`] = m.brokerRaw;
  }
} finally {
  clearTimeout(watchdog);
  await cleanup();
}

result.seconds = Math.round((Date.now() - started) / 1000);
const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(resultsDir, { recursive: true });
// Only a full run with default settings is a reference result; others are marked -small.
const file = join(resultsDir, `${result.startedAt.slice(0, 16).replace(/:/g, "-")}${scaleName === "full" && !values.set && only.size === 3 ? "" : "-small"}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
log(`\n${benchTable(result)}\n\nresult: ${file} (${result.seconds} s)`);
process.exit(0);
