/**
 * What a load test is asked to do, validated in one place for the CLI
 * (`npm run loadtest -- ...`) and the container entry (LOADGEN_* variables).
 * Every bound here exists so that a run stops by itself.
 */
import { readFileSync } from "node:fs";

export const SCENARIOS = ["idle", "fanout", "churn"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface LoadtestOptions {
  /** Gateways or a balancer/NLB: connection i goes to targets[i % targets.length]. */
  targets: string[];
  namespace: string;
  scenario: Scenario;
  /** idle/fanout: connections to open; churn: concurrent connect-join-leave-disconnect loops. */
  connections: number;
  /** New connections per second, over all workers. */
  rate: number;
  /** idle: seconds to hold every connection once all are open. */
  holdSeconds: number;
  /** fanout: seconds of sending; churn: seconds of looping. */
  durationSeconds: number;
  /** Members per call (room). idle default 4 (agent, caller, supervisor, recorder); fanout: senders are one per room. */
  roomSize: number;
  /** fanout: messages per second over all senders, or "max": each sender keeps `window` messages in flight. */
  messageRate: number | "max";
  window: number;
  /** fanout: bytes of filler in each message's data. */
  payloadBytes: number;
  /** churn: cycles per loop at most. */
  cycles: number;
  /** Worker processes; default from the file-descriptor limit. */
  workers: number | undefined;
  /** Spread loopback connections over source addresses 127.0.0.2, .3, ... (one per worker). */
  sourceAddresses: boolean;
  /**
   * wss:// only: verify the certificate chain but not that it names the
   * URL's host. For a target reached by a name its certificate does not
   * carry, such as a stack's own NLB DNS name behind a certificate for your
   * domain (`--tls-skip-hostname true`).
   */
  tlsSkipHostname: boolean;
  /** A fixed token for every connection, or a secret to mint one HS256 token per connection. */
  token: string | undefined;
  tokenSecret: string | undefined;
  /** Claims of minted tokens: `iss`, `aud`, and the tenant (claim name and value). */
  tokenIssuer: string | undefined;
  tokenAudience: string | undefined;
  tenant: string;
  tenantClaim: string;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  /** fanout: how long to wait for in-flight deliveries after the last send. */
  drainSeconds: number;
  /** Where the JSON and HTML reports go (a directory); none when empty. */
  out: string;
  label: string;
}

export class OptionError extends Error {}

export const DEFAULTS = {
  namespace: "/calls",
  scenario: "idle" as Scenario,
  connections: 1000,
  rate: 500,
  holdSeconds: 30,
  durationSeconds: 30,
  roomSize: 4,
  messageRate: 200 as number | "max",
  window: 4,
  payloadBytes: 64,
  cycles: 1000,
  connectTimeoutMs: 15_000,
  ackTimeoutMs: 10_000,
  drainSeconds: 5,
  out: "loadtest-reports",
};

/** Parses raw string values (from argv or the environment); unknown keys are the caller's problem. */
export function parseLoadtestOptions(raw: Record<string, string | undefined>): LoadtestOptions {
  const urls = (raw.url ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (urls.length === 0) throw new OptionError("--url: expected one or more comma-separated http(s)://host:port targets");
  for (const u of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(u);
    } catch {
      /* below */
    }
    if (!parsed || !/^(http|https|ws|wss):$/.test(parsed.protocol)) {
      throw new OptionError(`--url ${JSON.stringify(u)}: expected http(s)://host:port`);
    }
  }
  const scenario = (raw.scenario ?? DEFAULTS.scenario) as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new OptionError(`--scenario ${JSON.stringify(raw.scenario)}: expected one of ${SCENARIOS.join(", ")}`);
  const messageRateRaw = raw["message-rate"] ?? String(DEFAULTS.messageRate);
  const token = raw.token || fileOption(raw, "token-file");
  // A secret read from a file stays out of the shell history and `ps`
  // (`npm run local` writes its dev secret to .local/dev-secret).
  const tokenSecret = raw["token-secret"] || fileOption(raw, "token-secret-file");
  const o: LoadtestOptions = {
    targets: urls.map((u) => u.replace(/\/$/, "")),
    namespace: raw.namespace ?? DEFAULTS.namespace,
    scenario,
    connections: int(raw, "connections", DEFAULTS.connections, 1, 2_000_000),
    rate: int(raw, "rate", DEFAULTS.rate, 1, 100_000),
    holdSeconds: int(raw, "hold", DEFAULTS.holdSeconds, 0, 86_400),
    durationSeconds: int(raw, "duration", DEFAULTS.durationSeconds, 1, 86_400),
    roomSize: int(raw, "room-size", scenario === "fanout" ? 10 : DEFAULTS.roomSize, 1, 100_000),
    messageRate: messageRateRaw === "max" ? "max" : int(raw, "message-rate", DEFAULTS.messageRate as number, 1, 10_000_000, ' or "max"'),
    window: int(raw, "window", DEFAULTS.window, 1, 1000),
    payloadBytes: int(raw, "payload-bytes", DEFAULTS.payloadBytes, 0, 1_000_000),
    cycles: int(raw, "cycles", DEFAULTS.cycles, 1, 10_000_000),
    workers: raw.workers ? int(raw, "workers", 1, 1, 1000) : undefined,
    sourceAddresses: sourceAddresses(raw["source-addresses"]),
    tlsSkipHostname: bool(raw, "tls-skip-hostname", false),
    token,
    tokenSecret,
    tokenIssuer: raw["token-issuer"] || undefined,
    tokenAudience: raw["token-audience"] || undefined,
    tenant: raw.tenant || "loadtest",
    tenantClaim: raw["tenant-claim"] || "tenant",
    connectTimeoutMs: int(raw, "connect-timeout-ms", DEFAULTS.connectTimeoutMs, 100, 600_000),
    ackTimeoutMs: int(raw, "ack-timeout-ms", DEFAULTS.ackTimeoutMs, 100, 600_000),
    drainSeconds: int(raw, "drain", DEFAULTS.drainSeconds, 0, 600),
    out: raw.out ?? DEFAULTS.out,
    label: raw.label ?? "",
  };
  if (raw["token-secret"] && raw["token-secret-file"]) throw new OptionError("--token-secret and --token-secret-file: give one, not both");
  if (o.token && o.tokenSecret) throw new OptionError("--token and --token-secret: give one, not both");
  if (o.scenario === "fanout" && o.roomSize < 2) throw new OptionError("--room-size: fanout needs rooms of at least 2 (a sender and a receiver)");
  return o;
}

/** The trimmed contents of the file a `--*-file` option names; undefined when the option is absent. */
function fileOption(raw: Record<string, string | undefined>, name: string): string | undefined {
  const path = raw[name];
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new OptionError(`--${name} ${JSON.stringify(path)}: expected a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!text) throw new OptionError(`--${name} ${JSON.stringify(path)}: the file is empty`);
  return text;
}

function bool(raw: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const v = raw[name];
  if (v === undefined || v === "") return fallback;
  if (v === "true" || v === "false") return v === "true";
  throw new OptionError(`--${name} ${JSON.stringify(v)}: expected true or false`);
}

function int(raw: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number, alternative = ""): number {
  const v = raw[name];
  if (v === undefined || v === "") return fallback;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
    throw new OptionError(`--${name} ${JSON.stringify(v)}: expected an integer from ${min} to ${max}${alternative}`);
  }
  return Number(v);
}

/** `auto` (the default) and `on` spread loopback connections over 127.0.0.x; `off` does not. */
function sourceAddresses(v: string | undefined): boolean {
  if (v === undefined || v === "" || v === "auto" || v === "on") return true;
  if (v === "off") return false;
  throw new OptionError(`--source-addresses ${JSON.stringify(v)}: expected auto, on or off`);
}

/** The soft limit on open files of this process (each socket is one), from /proc on Linux. */
export function openFilesLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    /* not Linux */
  }
  return 1024;
}

/**
 * Sockets one worker may hold: the fd limit less a margin for the worker's
 * own files, and at most 15,000 so a worker's event loop keeps up with its
 * pings and deliveries on a loaded machine (measured: see docs/performance.md).
 */
export function socketsPerWorker(limit = openFilesLimit()): number {
  return Math.max(100, Math.min(15_000, limit - 500));
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host.startsWith("127.") || host === "[::1]";
}
