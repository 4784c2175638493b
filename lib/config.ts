/**
 * Every context parameter of the Switchboard stack, in one place.
 *
 * Each entry declares its group, doc, default and accepted values, and owns the
 * parser that turns a raw context value into its typed value. The TypeScript
 * type of the parsed configuration is *inferred* from these parsers, so the
 * schema and the type cannot drift apart.
 *
 * Context values arrive in two shapes: `-c key=value` on the command line always
 * gives a string, cdk.json gives JSON (number, boolean, array...). Every parser
 * accepts both and coerces; anything else fails synth with a message naming the
 * parameter, the value received and the accepted values.
 */

/** Thrown for any invalid context; bin/ lets it fail synth with this message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** One context parameter: its documentation and its parser. */
interface Param<T> {
  readonly group: "capacity" | "gateway" | "load balancer" | "broker" | "network" | "observability" | "load generator";
  readonly doc: string;
  /** Human-readable default, for errors and docs/stack.md. */
  readonly defaultText: string;
  /** Human-readable accepted values, for errors and docs/stack.md. */
  readonly accepted: string;
  /** Parses a raw value (undefined = not given) into the typed value. */
  parse(raw: unknown, name: string): T;
}

function show(raw: unknown): string {
  return typeof raw === "string" ? `"${raw}"` : JSON.stringify(raw);
}

function invalid(name: string, raw: unknown, accepted: string): ConfigError {
  return new ConfigError(
    `Invalid context parameter "${name}": received ${show(raw)} (${Array.isArray(raw) ? "array" : typeof raw}); accepted: ${accepted}.`,
  );
}

function integer(o: { group: Param<number>["group"]; doc: string; default: number; min: number; max: number }): Param<number> {
  const accepted = `an integer from ${o.min} to ${o.max}`;
  return {
    group: o.group,
    doc: o.doc,
    defaultText: String(o.default),
    accepted,
    parse(raw, name) {
      if (raw === undefined) return o.default;
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < o.min || n > o.max) throw invalid(name, raw, accepted);
      return n;
    },
  };
}

function choice<const V extends string>(o: { group: Param<V>["group"]; doc: string; values: readonly V[]; default: V }): Param<V> {
  const accepted = `one of ${o.values.map((v) => `"${v}"`).join(", ")}`;
  return {
    group: o.group,
    doc: o.doc,
    defaultText: o.default,
    accepted,
    parse(raw, name) {
      if (raw === undefined) return o.default;
      if (typeof raw !== "string" || !(o.values as readonly string[]).includes(raw)) throw invalid(name, raw, accepted);
      return raw as V;
    },
  };
}

/** An integer restricted to a list (Fargate CPU units, log retention days). */
function integerChoice(o: { group: Param<number>["group"]; doc: string; values: readonly number[]; default: number }): Param<number> {
  const accepted = `one of ${o.values.join(", ")}`;
  return {
    group: o.group,
    doc: o.doc,
    defaultText: String(o.default),
    accepted,
    parse(raw, name) {
      if (raw === undefined) return o.default;
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!o.values.includes(n)) throw invalid(name, raw, accepted);
      return n;
    },
  };
}

function optionalText(o: { group: Param<string>["group"]; doc: string; pattern: RegExp; accepted: string }): Param<string | undefined> {
  return {
    group: o.group,
    doc: o.doc,
    defaultText: "(unset)",
    accepted: o.accepted,
    parse(raw, name) {
      if (raw === undefined || raw === "") return undefined;
      if (typeof raw !== "string" || !o.pattern.test(raw)) throw invalid(name, raw, o.accepted);
      return raw;
    },
  };
}

function text(o: { group: Param<string>["group"]; doc: string; pattern: RegExp; accepted: string; default: string }): Param<string> {
  return {
    group: o.group,
    doc: o.doc,
    defaultText: o.default === "" ? '"" (empty)' : o.default,
    accepted: o.accepted,
    parse(raw, name) {
      if (raw === undefined) return o.default;
      if (typeof raw !== "string" || !o.pattern.test(raw)) throw invalid(name, raw, o.accepted);
      return raw;
    },
  };
}

/** A list given as a JSON array (cdk.json) or a comma-separated string (-c). */
function stringList(o: { group: Param<string[]>["group"]; doc: string; item: RegExp; accepted: string; default: string[] }): Param<string[]> {
  return {
    group: o.group,
    doc: o.doc,
    defaultText: o.default.join(","),
    accepted: o.accepted,
    parse(raw, name) {
      if (raw === undefined) return [...o.default];
      let items: unknown;
      if (Array.isArray(raw)) items = raw;
      else if (typeof raw === "string") items = raw.trim().startsWith("[") ? safeJson(raw) : raw.split(",").map((s) => s.trim());
      if (!Array.isArray(items) || items.length === 0 || items.some((i) => typeof i !== "string" || !o.item.test(i))) {
        throw invalid(name, raw, o.accepted);
      }
      return items as string[];
    },
  };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Fleets (namespace partitioning)
// ---------------------------------------------------------------------------

/** One fleet as written in the `fleets` context (optional fields fall back to the top-level parameters). */
export interface FleetSpec {
  readonly name: string;
  readonly namespaces: string[];
  readonly port?: number;
  readonly shards?: number;
  readonly replicasPerShard?: number;
  readonly desiredCount?: number;
  readonly minTasks?: number;
  readonly maxTasks?: number;
}

const FLEET_NAME = /^[a-z][a-z0-9]{0,15}$/;
const NAMESPACE = /^\/[A-Za-z0-9_\-/]*$/;
const FLEET_KEYS = ["name", "namespaces", "port", "shards", "replicasPerShard", "desiredCount", "minTasks", "maxTasks"] as const;
const FLEETS_ACCEPTED =
  'a JSON array of fleets, each {"name": lowercase letters/digits (1-16, starts with a letter), "namespaces": ["/ns", ...], ' +
  '"port"?: 1-65535, "shards"?: 1-500, "replicasPerShard"?: 1-5, "desiredCount"?, "minTasks"?, "maxTasks"?: 1-1000}; ' +
  "names, ports and namespaces unique across fleets; port required when there is more than one fleet";

const fleetsParam: Param<FleetSpec[] | undefined> = {
  group: "capacity",
  doc:
    "Namespace partitioning: each fleet is its own Fargate service, its own replication group and its own NLB listener port, " +
    "and its gateways serve only the namespaces it lists. Unset = one fleet named `gateway` serving `namespaces`.",
  defaultText: "(unset: one fleet `gateway`)",
  accepted: FLEETS_ACCEPTED,
  parse(raw, name) {
    if (raw === undefined || raw === "") return undefined;
    const value = typeof raw === "string" ? safeJson(raw) : raw;
    const fail = (why: string) => new ConfigError(`${invalid(name, raw, FLEETS_ACCEPTED).message} Problem: ${why}.`);
    if (!Array.isArray(value) || value.length === 0) throw fail("not a non-empty JSON array");
    const fleets: FleetSpec[] = value.map((f: unknown, i) => {
      if (typeof f !== "object" || f === null || Array.isArray(f)) throw fail(`fleet #${i} is not an object`);
      const rec = f as Record<string, unknown>;
      const unknownKey = Object.keys(rec).find((k) => !(FLEET_KEYS as readonly string[]).includes(k));
      if (unknownKey) throw fail(`fleet #${i} has unknown key "${unknownKey}" (known: ${FLEET_KEYS.join(", ")})`);
      if (typeof rec.name !== "string" || !FLEET_NAME.test(rec.name)) throw fail(`fleet #${i} name ${show(rec.name)} is invalid`);
      const ns = rec.namespaces;
      if (!Array.isArray(ns) || ns.length === 0 || ns.some((n) => typeof n !== "string" || !NAMESPACE.test(n))) {
        throw fail(`fleet "${rec.name}" namespaces must be a non-empty list of "/..." strings`);
      }
      const int = (key: string, min: number, max: number): number | undefined => {
        const v = rec[key];
        if (v === undefined) return undefined;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
          throw fail(`fleet "${rec.name}" ${key} ${show(v)} is not an integer from ${min} to ${max}`);
        }
        return v;
      };
      return {
        name: rec.name,
        namespaces: ns as string[],
        port: int("port", 1, 65535),
        shards: int("shards", 1, 500),
        replicasPerShard: int("replicasPerShard", 1, 5),
        desiredCount: int("desiredCount", 1, 1000),
        minTasks: int("minTasks", 1, 1000),
        maxTasks: int("maxTasks", 1, 1000),
      };
    });
    const dup = <T>(xs: T[]) => xs.find((x, i) => xs.indexOf(x) !== i);
    const dupName = dup(fleets.map((f) => f.name));
    if (dupName) throw fail(`fleet name "${dupName}" appears twice`);
    const dupNs = dup(fleets.flatMap((f) => f.namespaces));
    if (dupNs) throw fail(`namespace "${dupNs}" is served by two fleets`);
    if (fleets.length > 1 && fleets.some((f) => f.port === undefined)) throw fail("every fleet needs a port when there is more than one");
    const dupPort = dup(fleets.map((f) => f.port).filter((p) => p !== undefined));
    if (dupPort !== undefined) throw fail(`port ${dupPort} is used by two fleets`);
    return fleets;
  },
};

// ---------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------

/**
 * Fargate CPU units -> memory (MiB) combinations Fargate accepts.
 * Source: "Task CPU and memory" in the Amazon ECS developer guide.
 */
export const FARGATE_MEMORY_BY_CPU: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

/** The NLB drops a TCP flow idle for 350 s (fixed default of the TCP listener idle timeout). */
export const NLB_TCP_IDLE_TIMEOUT_SECONDS = 350;
/** ECS stopTimeout of the gateway container: the maximum Fargate allows (120 s), so the drain has room. */
export const STOP_TIMEOUT_SECONDS = 120;

export const CONTEXT_SCHEMA = {
  // --- capacity -------------------------------------------------------------
  desiredCount: integer({ group: "capacity", doc: "Gateway tasks per fleet at deploy time (autoscaling moves it between minTasks and maxTasks).", default: 2, min: 1, max: 1000 }),
  minTasks: integer({ group: "capacity", doc: "Autoscaling floor (tasks per fleet). Two keeps a task in a second AZ.", default: 2, min: 1, max: 1000 }),
  maxTasks: integer({ group: "capacity", doc: "Autoscaling ceiling (tasks per fleet).", default: 10, min: 1, max: 1000 }),
  taskCpu: integerChoice({ group: "capacity", doc: "Fargate task CPU units. Node.js runs the event loop on one core: 1 vCPU per task and scale out.", values: [256, 512, 1024, 2048, 4096, 8192, 16384], default: 1024 }),
  taskMemoryMiB: integer({ group: "capacity", doc: "Fargate task memory (MiB); must be a valid Fargate combination with taskCpu.", default: 2048, min: 512, max: 122880 }),
  cpuArchitecture: choice({ group: "capacity", doc: "CPU architecture of the tasks and of the container image (linux/amd64 or linux/arm64).", values: ["x86_64", "arm64"] as const, default: "x86_64" }),
  targetConnectionsPerTask: integer({ group: "capacity", doc: "Target-tracking autoscaling target: average ConnectedClients per task.", default: 20000, min: 100, max: 1000000 }),
  maxConnectionsPerTask: integer({ group: "capacity", doc: "What one task can hold (measure it with a load test). Alarm at 80% of it; must exceed targetConnectionsPerTask.", default: 30000, min: 100, max: 1000000 }),
  fleets: fleetsParam,

  // --- gateway --------------------------------------------------------------
  namespaces: stringList({ group: "gateway", doc: "Socket.IO namespaces of the default fleet (ignored when `fleets` is set).", item: NAMESPACE, accepted: 'a comma-separated list or JSON array of "/..." namespaces', default: ["/calls", "/dashboard"] }),
  drainSeconds: integer({ group: "gateway", doc: "DRAIN_SECONDS: how long a stopping gateway spreads client disconnects over. Must exceed deregistrationDelaySeconds and stay below the 120 s stopTimeout.", default: 60, min: 1, max: 119 }),
  pingIntervalMs: integer({ group: "gateway", doc: "PING_INTERVAL_MS: Socket.IO heartbeat. Must stay below the NLB's 350 s TCP idle timeout, or idle sockets get dropped.", default: 25000, min: 1000, max: 349999 }),
  pingTimeoutMs: integer({ group: "gateway", doc: "PING_TIMEOUT_MS: how long the gateway waits for a pong before closing.", default: 20000, min: 1000, max: 300000 }),
  authMode: choice({ group: "gateway", doc: "AUTH_MODE: hs256 (the stack generates AUTH_SECRET), jwks (needs authJwksUrl) or none.", values: ["hs256", "jwks", "none"] as const, default: "hs256" }),
  authJwksUrl: optionalText({ group: "gateway", doc: "AUTH_JWKS_URL (authMode=jwks).", pattern: /^https:\/\/\S+$/, accepted: "an https:// URL" }),
  authIssuer: optionalText({ group: "gateway", doc: "AUTH_ISSUER: expected `iss` claim.", pattern: /^\S{1,512}$/, accepted: "a non-empty string without spaces" }),
  authAudience: optionalText({ group: "gateway", doc: "AUTH_AUDIENCE: expected `aud` claim.", pattern: /^\S{1,512}$/, accepted: "a non-empty string without spaces" }),
  maxConnectionsPerUser: integer({ group: "gateway", doc: "MAX_CONNECTIONS_PER_USER: sockets one user may hold at once.", default: 10, min: 1, max: 10000 }),
  connectRatePerIp: integer({ group: "gateway", doc: "CONNECT_RATE_PER_IP: new connections per second from one client IP (the NLB preserves client IPs); 0 = no limit. While loadgenTasks > 0 it is raised to at least loadgenRate, since each load-generator task is one IP.", default: 10, min: 0, max: 1000000 }),
  connectBurstPerIp: integer({ group: "gateway", doc: "CONNECT_BURST_PER_IP: connections one IP may open at once above its rate. While loadgenTasks > 0 it is raised to at least 2 x loadgenRate.", default: 20, min: 1, max: 1000000 }),
  allowedOrigins: text({ group: "gateway", doc: "ALLOWED_ORIGINS: comma-separated CORS origins for browsers; empty = the gateway's own default.", pattern: /^[^\s]*$/, accepted: "a comma-separated list of origins without spaces", default: "" }),
  logLevel: choice({ group: "gateway", doc: "LOG_LEVEL of the gateway.", values: ["debug", "info", "warn", "error"] as const, default: "info" }),

  // --- load balancer ---------------------------------------------------------
  certificateArn: optionalText({ group: "load balancer", doc: "ACM certificate: the listener becomes TLS on 443 (port 80 is not opened) and NLB access logs are written.", pattern: /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, accepted: "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)" }),
  deregistrationDelaySeconds: integer({ group: "load balancer", doc: "Target group deregistration delay: a stopping task gets no new connections for this long before SIGTERM. Must be below drainSeconds.", default: 30, min: 0, max: 118 }),

  // --- broker ------------------------------------------------------------------
  redisMode: choice({ group: "broker", doc: "cluster: sharded replication group (cluster mode on). single: one shard without cluster mode (enough to ~60k connections); shards is then ignored.", values: ["cluster", "single"] as const, default: "cluster" }),
  shards: integer({ group: "broker", doc: "Node groups (shards) per replication group in cluster mode.", default: 3, min: 1, max: 500 }),
  replicasPerShard: integer({ group: "broker", doc: "Replicas per shard. At least 1: automatic failover and Multi-AZ need a replica.", default: 1, min: 1, max: 5 }),
  cacheEngine: choice({ group: "broker", doc: "ElastiCache engine.", values: ["valkey", "redis"] as const, default: "valkey" }),
  cacheEngineVersion: optionalText({ group: "broker", doc: "Engine version (default 8.0 for valkey, 7.1 for redis).", pattern: /^(7\.2|8\.0|8\.1|6\.2|7\.0|7\.1)$/, accepted: "valkey: 7.2, 8.0, 8.1; redis: 6.2, 7.0, 7.1" }),
  cacheNodeType: text({ group: "broker", doc: "Node type (Graviton memory-optimised by default).", pattern: /^cache\.[a-z0-9]+\.[a-z0-9]+$/, accepted: "an ElastiCache node type such as cache.r7g.large", default: "cache.r7g.large" }),

  // --- network ---------------------------------------------------------------
  maxAzs: integer({ group: "network", doc: "AZs of the new VPC. ElastiCache Multi-AZ needs 2; more than 2 needs account and region (an environment-agnostic stack gets 2 AZs).", default: 2, min: 2, max: 6 }),
  natGateways: integer({ group: "network", doc: "NAT gateways of the new VPC (1 = cheaper, one per AZ = survives an AZ outage). At least 1: tasks pull their image and reach CloudWatch and Secrets Manager through it (the stack creates no VPC endpoints).", default: 1, min: 1, max: 6 }),
  vpcId: optionalText({ group: "network", doc: "Deploy into this existing VPC (needs explicit account and region) instead of creating one.", pattern: /^vpc-[0-9a-f]{8,17}$/, accepted: "a VPC id such as vpc-0123456789abcdef0" }),
  account: optionalText({ group: "network", doc: "Target account (else CDK_DEFAULT_ACCOUNT when vpcId needs one).", pattern: /^\d{12}$/, accepted: "a 12-digit AWS account id" }),
  region: optionalText({ group: "network", doc: "Target region (else CDK_DEFAULT_REGION when vpcId needs one).", pattern: /^[a-z]{2}(-gov)?-[a-z]+-\d$/, accepted: "an AWS region such as us-east-1" }),

  // --- observability ---------------------------------------------------------
  metricsNamespace: text({ group: "observability", doc: "CloudWatch namespace of the gateway's custom metrics (CLOUDWATCH_NAMESPACE).", pattern: /^[A-Za-z0-9_.\-/#:]{1,255}$/, accepted: "1-255 characters of A-Z a-z 0-9 . - _ / # :", default: "Switchboard" }),
  alarmEmail: optionalText({ group: "observability", doc: "Send every alarm to an SNS topic with this email subscribed.", pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/, accepted: "an email address" }),
  logRetentionDays: integerChoice({ group: "observability", doc: "Retention of the gateway logs, the load-generator logs and VPC flow logs.", values: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], default: 30 }),

  // --- load generator ----------------------------------------------------------
  loadgenTasks: integer({ group: "load generator", doc: "Fargate tasks running the load generator (loadtest/main.ts, same image) against this stack's NLB, from public subnets with a public IP each. 0 = none; set it back to 0 after the test (a held test keeps its connections open).", default: 0, min: 0, max: 100 }),
  loadgenScenario: choice({ group: "load generator", doc: "LOADGEN_SCENARIO of every load-generator task.", values: ["idle", "fanout", "churn"] as const, default: "idle" }),
  loadgenConnections: integer({ group: "load generator", doc: "LOADGEN_CONNECTIONS: connections per load-generator task (about 15,000 per worker; nofile 65,536 gives four workers).", default: 15000, min: 1, max: 60000 }),
  loadgenRate: integer({ group: "load generator", doc: "LOADGEN_RATE: new connections per second per task. The gateways' per-IP connect limit is raised to at least this while loadgenTasks > 0.", default: 500, min: 1, max: 10000 }),
  loadgenHoldSeconds: integer({ group: "load generator", doc: "LOADGEN_HOLD: seconds each task holds its connections once all are open (idle scenario).", default: 300, min: 0, max: 86400 }),
} as const;

type Schema = typeof CONTEXT_SCHEMA;
/** The raw parameters, typed from the schema. */
export type ContextParams = { readonly [K in keyof Schema]: ReturnType<Schema[K]["parse"]> };
export type ContextName = keyof Schema;

/** A fleet with every field resolved. */
export interface FleetConfig {
  readonly name: string;
  readonly namespaces: string[];
  /** NLB listener port. */
  readonly port: number;
  /** Node groups; always 1 when redisMode=single. */
  readonly shards: number;
  readonly replicasPerShard: number;
  readonly desiredCount: number;
  readonly minTasks: number;
  readonly maxTasks: number;
}

/** The parsed, cross-validated configuration the stack factory takes. */
export interface SwitchboardConfig extends ContextParams {
  readonly fleetList: readonly FleetConfig[];
  readonly cacheEngineVersionResolved: string;
  /** Stack environment; undefined = env-agnostic (offline synth). */
  readonly env?: { readonly account: string; readonly region: string };
}

/** Context keys owned by the CDK itself (feature flags, lookups, CLI settings), not by us. */
function isCdkOwnedKey(key: string): boolean {
  return key.startsWith("@") || key.startsWith("aws:") || key.startsWith("aws-cdk:") || key.includes(":");
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = candidates.map((c) => [c, dist(name.toLowerCase(), c.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 3 ? best[0] : undefined;
}

/**
 * Parses and cross-validates the raw context.
 * @param context every context value (app.node.getAllContext()).
 * @param environment process.env, for CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION.
 */
export function parseConfig(context: Record<string, unknown>, environment: Record<string, string | undefined> = {}): SwitchboardConfig {
  const names = Object.keys(CONTEXT_SCHEMA) as ContextName[];
  for (const key of Object.keys(context)) {
    if (isCdkOwnedKey(key) || (names as string[]).includes(key)) continue;
    const guess = closest(key, names);
    throw new ConfigError(
      `Unknown context parameter "${key}" (received ${show(context[key])}).${guess ? ` Did you mean "${guess}"?` : ""} Accepted parameters: ${names.join(", ")}.`,
    );
  }
  const p = {} as Record<ContextName, unknown>;
  for (const name of names) p[name] = CONTEXT_SCHEMA[name].parse(context[name], name);
  const c = p as ContextParams;

  const fail = (name: string, why: string) => new ConfigError(`Invalid context parameter "${name}": ${why}`);

  // Fargate only accepts specific cpu/memory pairs.
  const mems = FARGATE_MEMORY_BY_CPU[c.taskCpu]!;
  if (!mems.includes(c.taskMemoryMiB)) {
    throw fail("taskMemoryMiB", `received ${c.taskMemoryMiB} with taskCpu=${c.taskCpu}; accepted for taskCpu=${c.taskCpu}: ${mems.join(", ")}.`);
  }
  // Stop sequence: NLB deregistration (no new connections) < gateway drain < ECS stopTimeout (SIGKILL).
  if (!(c.deregistrationDelaySeconds < c.drainSeconds)) {
    throw fail("deregistrationDelaySeconds", `received ${c.deregistrationDelaySeconds}, must be below drainSeconds (${c.drainSeconds}) so a stopping task stops receiving new connections before it drains; accepted: 0 to ${c.drainSeconds - 1}.`);
  }
  if (!(c.drainSeconds < STOP_TIMEOUT_SECONDS)) {
    throw fail("drainSeconds", `received ${c.drainSeconds}, must be below the ${STOP_TIMEOUT_SECONDS} s stopTimeout.`);
  }
  if (!(c.pingIntervalMs < NLB_TCP_IDLE_TIMEOUT_SECONDS * 1000)) {
    throw fail("pingIntervalMs", `received ${c.pingIntervalMs}, must be below the NLB TCP idle timeout (${NLB_TCP_IDLE_TIMEOUT_SECONDS * 1000} ms).`);
  }
  if (!(c.targetConnectionsPerTask < c.maxConnectionsPerTask)) {
    throw fail("targetConnectionsPerTask", `received ${c.targetConnectionsPerTask}, must be below maxConnectionsPerTask (${c.maxConnectionsPerTask}): autoscaling has to act before tasks reach their ceiling.`);
  }
  if (c.authMode === "jwks" && !c.authJwksUrl) {
    throw fail("authJwksUrl", `missing: authMode=jwks needs authJwksUrl; accepted: an https:// URL.`);
  }
  if (c.loadgenTasks > 0 && c.authMode === "jwks") {
    throw fail("loadgenTasks", `received ${c.loadgenTasks} with authMode=jwks: the load generator can only mint HS256 tokens (authMode=hs256) or connect without one (authMode=none); accepted with jwks: 0.`);
  }
  if (c.natGateways > c.maxAzs) {
    throw fail("natGateways", `received ${c.natGateways}, more than maxAzs (${c.maxAzs}); accepted: 1 to ${c.maxAzs}.`);
  }
  // Engine version must belong to the engine.
  const versions = c.cacheEngine === "valkey" ? ["7.2", "8.0", "8.1"] : ["6.2", "7.0", "7.1"];
  const version = c.cacheEngineVersion ?? (c.cacheEngine === "valkey" ? "8.0" : "7.1");
  if (!versions.includes(version)) {
    throw fail("cacheEngineVersion", `received "${version}" for cacheEngine=${c.cacheEngine}; accepted: ${versions.join(", ")}.`);
  }

  // Existing VPC: Vpc.fromLookup needs a concrete account and region.
  const account = c.account ?? (c.vpcId ? environment.CDK_DEFAULT_ACCOUNT : undefined);
  const region = c.region ?? (c.vpcId ? environment.CDK_DEFAULT_REGION : undefined);
  if (c.vpcId && (!account || !region)) {
    throw fail("vpcId", `received "${c.vpcId}" but the stack has no explicit ${!account ? "account" : "region"}: deploying into an existing VPC needs account and region, via -c account=123456789012 -c region=us-east-1 or CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION (set by the CLI when credentials are available).`);
  }
  if (c.maxAzs > 2 && !(account && region) && !c.vpcId) {
    throw fail("maxAzs", `received ${c.maxAzs}, but without account and region the stack is environment-agnostic and CDK can only place it in 2 AZs; give -c account=... -c region=... (AZ lookup needs credentials at synth) or keep maxAzs=2.`);
  }
  if ((account === undefined) !== (region === undefined)) {
    throw fail(account ? "region" : "account", `missing: account and region must be given together.`);
  }

  const specs: FleetSpec[] = c.fleets ?? [{ name: "gateway", namespaces: c.namespaces }];
  const defaultPort = c.certificateArn ? 443 : 80;
  const fleetList = specs.map((f): FleetConfig => {
    const fleet: FleetConfig = {
      name: f.name,
      namespaces: f.namespaces,
      port: f.port ?? defaultPort,
      shards: c.redisMode === "single" ? 1 : (f.shards ?? c.shards),
      replicasPerShard: f.replicasPerShard ?? c.replicasPerShard,
      desiredCount: f.desiredCount ?? c.desiredCount,
      minTasks: f.minTasks ?? c.minTasks,
      maxTasks: f.maxTasks ?? c.maxTasks,
    };
    const where = c.fleets ? `fleets[${f.name}].` : "";
    if (fleet.minTasks > fleet.maxTasks) {
      throw fail(`${where}minTasks`, `received ${fleet.minTasks}, above maxTasks (${fleet.maxTasks}).`);
    }
    if (fleet.desiredCount < fleet.minTasks || fleet.desiredCount > fleet.maxTasks) {
      throw fail(`${where}desiredCount`, `received ${fleet.desiredCount}; accepted: minTasks (${fleet.minTasks}) to maxTasks (${fleet.maxTasks}).`);
    }
    return fleet;
  });

  return {
    ...c,
    fleetList,
    cacheEngineVersionResolved: version,
    env: account && region ? { account, region } : undefined,
  };
}
