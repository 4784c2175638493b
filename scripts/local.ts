/**
 * `npm run local`: the whole topology on loopback. A 3-primary Redis cluster,
 * two gateways in cluster mode, and a round-robin TCP balancer on port 3000
 * that honours /readyz the way the NLB does.
 *
 *   npm run local -- --port 3000 --gateway-ports 3001,3002 --redis-ports 7000,7001,7002
 *
 * Authentication is on: each run makes a random HS256 secret, writes it to
 * .local/dev-secret for `npm run token` and `npm run demo`, and the gateways
 * trust it. `AUTH_MODE=none npm run local` runs without authentication.
 *
 * Keys while it runs (on a terminal): `r` restarts the next gateway (a
 * rolling restart, one at a time), `q` or Ctrl-C stops everything.
 * `kill -USR2 <pid>` restarts the next gateway too, for scripts.
 */
import { parseArgs } from "node:util";
import { checkRedisServer } from "../topology/redis-cluster.js";
import { isPortFree } from "../topology/ports.js";
import { startTopology, type Topology } from "../topology/index.js";
import { DEV_AUDIENCE, DEV_AUTH_SECRET, DEV_ISSUER, devAuthEnv, mintDevToken } from "../topology/dev-auth.js";
import { DEV_SECRET_FILE, writeDevSecret } from "./dev-secret.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.LOCAL_PORT ?? "3000" },
    "gateway-ports": { type: "string", default: process.env.LOCAL_GATEWAY_PORTS ?? "3001,3002" },
    "redis-ports": { type: "string", default: process.env.LOCAL_REDIS_PORTS ?? "7000,7001,7002" },
    verbose: { type: "boolean", default: false },
  },
});

function ports(name: string, raw: string): number[] {
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    fail(`--${name} ${JSON.stringify(raw)}: expected comma-separated port numbers`);
  }
  return list;
}

function fail(message: string): never {
  process.stderr.write(`npm run local: ${message}\n`);
  process.exit(1);
}

const balancerPort = ports("port", values.port!)[0];
const gatewayPorts = ports("gateway-ports", values["gateway-ports"]!);
const redisPorts = ports("redis-ports", values["redis-ports"]!);
if (redisPorts.length !== 3) fail(`--redis-ports needs 3 ports (one per primary), got ${redisPorts.length}`);

try {
  const { version } = checkRedisServer();
  console.log(`redis-server ${version} found`);
} catch (err) {
  fail((err as Error).message);
}

const busy: number[] = [];
for (const p of [balancerPort, ...gatewayPorts, ...redisPorts, ...redisPorts.map((p) => p + 10000)]) {
  if (!(await isPortFree(p))) busy.push(p);
}
if (busy.length > 0) {
  fail(`port(s) ${busy.join(", ")} already in use (Redis Cluster also needs port+10000 for its bus); choose others with --port, --gateway-ports, --redis-ports`);
}

// Auth is on unless switched off explicitly; then the output says so.
const authOff = process.env.AUTH_MODE === "none";
const gatewayEnv: Record<string, string> = authOff ? { AUTH_MODE: "none" } : devAuthEnv(DEV_AUTH_SECRET);
if (authOff) {
  console.log("AUTH_MODE=none: authentication is OFF, anyone who reaches these ports may join any call");
} else {
  writeDevSecret(DEV_AUTH_SECRET);
  console.log(`auth: on (HS256); this run's dev secret is in ${DEV_SECRET_FILE}; mint a token with \`npm run token -- --sub alice\``);
}

let topology: Topology | undefined;
let stopping = false;
async function shutdown(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log("stopping: gateways, balancer, redis cluster");
  await topology?.stop();
  console.log("stopped; temporary files removed");
  process.exit(code);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());

try {
  topology = await startTopology({
    redisPorts,
    gatewayPorts,
    balancerPort,
    gatewayEnv,
    onProgress: (line) => console.log(line),
    onGatewayLine: (line, stream) => {
      if (values.verbose || stream === "stderr" || /"level":"(warn|error)"/.test(line)) console.log(`  ${line}`);
    },
  });
} catch (err) {
  console.error(`npm run local: ${(err as Error).message}`);
  await shutdown(1);
}

console.log(`ready: http://127.0.0.1:${balancerPort}`);
// The token rides in the URL fragment, which browsers never send to the server.
const consoleToken = authOff ? "" : `#token=${await mintDevToken({ sub: "console", secret: DEV_AUTH_SECRET, expiresInSeconds: 12 * 3600 })}`;
console.log(`console: open http://127.0.0.1:${balancerPort}/${consoleToken} in a browser (a second window lands on the other gateway)`);
// The balancer is one process of at most 20,000 open files and holds two per
// connection, so a large load test goes to the gateways directly.
const loadtestAuth = authOff ? "" : ` --token-secret-file ${DEV_SECRET_FILE} --token-issuer ${DEV_ISSUER} --token-audience ${DEV_AUDIENCE}`;
const gatewayUrls = gatewayPorts.map((p) => `http://127.0.0.1:${p}`).join(",");
console.log(`load test: npm run loadtest -- --url ${gatewayUrls}${loadtestAuth} --scenario idle --connections 10000 --rate 700 --hold 30`);
console.log(`keys: r = rolling restart of the next gateway, q = quit (or Ctrl-C); try \`npm run demo\` in another terminal`);

let nextRestart = 0;
let restarting = false;
async function restartNextGateway(): Promise<void> {
  if (!topology || restarting || stopping) return;
  restarting = true;
  const gw = topology.gateways[nextRestart++ % topology.gateways.length];
  console.log(`restart: SIGTERM to gateway ${gw.url} (it drains, the balancer stops sending it new connections)`);
  const code = await gw.stop(120_000, { drain: true });
  console.log(`restart: gateway ${gw.url} exited with ${code}; starting it again`);
  await topology.startGateway(gw.port);
  restarting = false;
}
process.on("SIGUSR2", () => void restartNextGateway());
if (process.stdin.isTTY) {
  process.stdin.setRawMode(true);
  process.stdin.setEncoding("utf8").on("data", (key: string) => {
    if (key === "r") void restartNextGateway();
    if (key === "q" || key === "\u0003") void shutdown();
  });
}
