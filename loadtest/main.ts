/**
 * The load generator as a container entry (`loadgenTasks=N` in the stack):
 * reads LOADGEN_* variables instead of flags, runs once, and writes its
 * summary as ONE JSON log line (`"msg":"loadtest summary"`) so CloudWatch
 * Logs Insights can add up the tasks (query in docs/performance.md).
 *
 *   LOADGEN_URL            target, e.g. http://<nlb-dns>:80 (required)
 *   LOADGEN_SCENARIO       idle | fanout | churn (idle)
 *   LOADGEN_CONNECTIONS, LOADGEN_RATE, LOADGEN_HOLD, LOADGEN_DURATION, LOADGEN_ROOM_SIZE,
 *   LOADGEN_MESSAGE_RATE, LOADGEN_WINDOW, LOADGEN_PAYLOAD_BYTES, LOADGEN_CYCLES, LOADGEN_WORKERS
 *   LOADGEN_TOKEN_SECRET   mint HS256 tokens per connection (the gateway's AUTH_SECRET)
 *   LOADGEN_TOKEN          or one fixed token
 *   LOADGEN_TOKEN_ISSUER, LOADGEN_TOKEN_AUDIENCE, LOADGEN_TENANT, LOADGEN_TENANT_CLAIM   claims of minted tokens
 *   LOADGEN_TLS_SKIP_HOSTNAME  true: verify a wss:// target's certificate chain, not its name (set by the stack for its own NLB behind your certificate)
 *   LOADGEN_LABEL          defaults to the ECS task id when known
 *   LOADGEN_LINGER_SECONDS stay alive this long after the summary (default 0), so an
 *                          ECS service does not replace the task and run it again
 */
import { runLoadtest } from "./fleet.js";
import { OptionError, parseLoadtestOptions } from "./options.js";
import { loadtestFailures } from "./report.js";

const env = process.env;
const flag = (name: string) => env[`LOADGEN_${name.toUpperCase().replace(/-/g, "_")}`];
const keys = ["url", "scenario", "namespace", "connections", "rate", "hold", "duration", "room-size", "message-rate", "window", "payload-bytes", "cycles", "workers", "token", "token-secret", "token-issuer", "token-audience", "tenant", "tenant-claim", "drain", "connect-timeout-ms", "ack-timeout-ms", "tls-skip-hostname"];
const task = env.ECS_CONTAINER_METADATA_URI_V4?.split("/").pop();

let options;
try {
  options = parseLoadtestOptions({ ...Object.fromEntries(keys.map((k) => [k, flag(k)])), out: "", label: flag("label") ?? task ?? "" });
} catch (err) {
  // The options module names flags (--room-size); here they are LOADGEN_ROOM_SIZE.
  const message = err instanceof OptionError ? err.message.replace(/--([a-z-]+)/g, (_, k: string) => `LOADGEN_${k.toUpperCase().replace(/-/g, "_")}`) : String(err);
  process.stderr.write(`loadgen: invalid configuration: ${message}\n`);
  process.exit(2);
}

const line = (msg: string, fields: object) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: "info", msg, ...fields })}\n`);
let lastProgress = 0;
const result = await runLoadtest(options, {
  // One progress line per 10 s: enough to follow in the console, cheap in CloudWatch.
  progress: (text) => {
    if (Date.now() - lastProgress < 10_000) return;
    lastProgress = Date.now();
    line("loadtest progress", { text });
  },
});
const { timeline: _timeline, histogram: _histogram, ...summary } = result;
const failures = loadtestFailures(result);
line("loadtest summary", {
  summary,
  // Empty when every connection opened and held with no error or loss.
  failures,
  // Flat fields so Logs Insights can sum and take max across tasks directly.
  reached: result.connections.reached,
  held: result.connections.held ?? 0,
  dropped: result.connections.dropped,
  errorCount: Object.values(result.errors).reduce((a, b) => a + b, 0),
  deliveries: result.fanout?.deliveries ?? 0,
  expected: result.fanout?.expected ?? 0,
  lost: result.fanout?.lost ?? 0,
  deliveriesPerSec: result.fanout?.deliveriesPerSec ?? 0,
  p50Ms: result.latencyMs.p50 ?? null,
  p99Ms: result.latencyMs.p99 ?? null,
  p999Ms: result.latencyMs.p999 ?? null,
  maxMs: result.latencyMs.max ?? null,
  // The same bucket edges in every task: add counts per edge across tasks for exact fleet percentiles.
  hist: result.histogram.filter((b) => b.count > 0).map((b) => [Math.round(b.highMs * 1000) / 1000, b.count]),
});
const linger = Number(env.LOADGEN_LINGER_SECONDS ?? 0);
if (Number.isFinite(linger) && linger > 0) {
  line("loadtest done: lingering", { seconds: linger });
  await new Promise((r) => setTimeout(r, linger * 1000));
}
process.exit(failures.length > 0 ? 1 : 0);
