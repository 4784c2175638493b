/**
 * The gateway's configuration: every environment variable it reads is
 * declared here once, with its default and what it accepts, and parsed at
 * start-up. A bad value stops the process (exit code 2, see main.ts) with a
 * one-line message naming the variable, the value received and what was
 * expected.
 */
import { ALL_NAMESPACES, type NamespaceName } from "./protocol.js";

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly received: string | undefined,
    readonly expected: string,
  ) {
    super(`${variable}=${received === undefined ? "(unset)" : JSON.stringify(received)}: expected ${expected}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

export type RedisMode = "cluster" | "single" | "memory";
export interface RedisNode {
  host: string;
  port: number;
}

export interface GatewayConfig {
  /** TCP port for Socket.IO and HTTP (`PORT`, default 3000). */
  port: number;
  /** Address to bind (`HOST`, default 0.0.0.0). */
  host: string;
  /** Identifies this process in logs, acks and relayed events (`GATEWAY_ID`, default host:port:pid). */
  gatewayId: string;
  /** Which namespaces this gateway serves (`NAMESPACES`, default both). A fleet may serve one. */
  namespaces: NamespaceName[];
  redis: {
    /** `cluster`: Redis Cluster (ElastiCache cluster mode); `single`: one Redis 7 node; `memory`: no Redis, one process only. */
    mode: RedisMode;
    /** Seed nodes (`REDIS_NODES`, comma-separated host:port). Required unless mode is memory. */
    nodes: RedisNode[];
    /** TLS to Redis (`REDIS_TLS`, default false; ElastiCache with encryption in transit needs true). */
    tls: boolean;
    /** Password / ElastiCache auth token (`REDIS_AUTH`, optional). Never logged. */
    auth: string | undefined;
    /**
     * How long a publish may wait for Redis before its sender gets a
     * `publish_failed` ack (`PUBLISH_TIMEOUT_MS`, default 2000). Local members
     * of the room are served when it settles either way.
     */
    publishTimeoutMs: number;
  };
  /**
   * Engine.IO heartbeat (`PING_INTERVAL_MS` default 25000, `PING_TIMEOUT_MS`
   * default 20000). The AWS NLB drops a TCP flow idle for 350 s; a ping every
   * 25 s keeps every healthy connection well inside that.
   */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /**
   * Which Engine.IO server carries the WebSocket connections (`ENGINE`,
   * default `lean`): `lean` is this project's WebSocket-only engine
   * (lean-engine.ts: its own WebSocket framing, Engine.IO session and
   * Socket.IO client role in one object per connection, about a third of the
   * stock heap per idle connection); `stock` is `engine.io` + `ws`, for
   * comparison or if you need long-polling later.
   */
  engine: "lean" | "stock";
  /** Largest Socket.IO frame accepted, in bytes (`MAX_FRAME_BYTES`, default 32768); a larger one closes that connection. */
  maxFrameBytes: number;
  /**
   * Most bytes queued for one client that it has not read yet
   * (`MAX_BUFFERED_BYTES`, default 1048576; 0 for no limit). Past it the
   * connection is cut ("transport error") and counted in
   * `socket_io_slow_clients_cut_total`: one client that stops reading while
   * its call keeps talking would otherwise grow the task's memory until the
   * task, and every connection on it, is killed. 1 MiB is about 1,000 call
   * events of 1 KB, far more than a healthy client on a slow link lags
   * behind. `ENGINE=lean` only: the stock engine has no such limit.
   */
  maxBufferedBytes: number;
  /** Largest `data` of a `call:event`, in bytes of JSON (`MAX_EVENT_DATA_BYTES`, default 16384). */
  maxEventDataBytes: number;
  /**
   * How long a `call:event` sent with `receipts: true` waits for members'
   * acknowledgements (`RECEIPT_TIMEOUT_MS`, default 5000). The sender's ack
   * waits this long when a member does not answer.
   */
  receiptTimeoutMs: number;
  /** Drain window after SIGTERM, in seconds (`DRAIN_SECONDS`, default 30). */
  drainSeconds: number;
  /** Seconds after SIGTERM during which connections are left alone before the drain starts (`DRAIN_GRACE_SECONDS`, default 5). */
  drainGraceSeconds: number;
  /** `debug`, `info`, `warn` or `error` (`LOG_LEVEL`, default info). */
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * Seconds between two `PUBSUB SHARDCHANNELS` polls of every primary, for the
   * per-shard `redis_pubsub_channels` gauge (`SHARD_CHANNELS_POLL_SECONDS`,
   * default 10). The reply lists every channel of the shard, so the cost grows
   * with the rooms: raise it for very large fleets, lower it (1) in tests.
   */
  shardChannelsPollSeconds: number;
  /**
   * Per-task custom metrics in CloudWatch; undefined (off) unless
   * `CLOUDWATCH_NAMESPACE` is set. The stack sets it on ECS; locally it stays off.
   */
  cloudwatch: CloudWatchConfig | undefined;
  /** POST /v1/publish, for backend services (gateway/src/publish-endpoint.ts). */
  publish: PublishConfig;
  /** Who may connect: see docs/security.md. */
  auth: AuthConfig;
  /** How much each client may use: see docs/security.md. */
  limits: LimitsConfig;
}

export interface CloudWatchConfig {
  /** `CLOUDWATCH_NAMESPACE`: the custom metric namespace; setting it turns publishing on. */
  namespace: string;
  /** `SERVICE_NAME`: the value of the `ServiceName` dimension (required with a namespace), so alarms average over tasks. */
  serviceName: string;
  /**
   * `CLOUDWATCH_INTERVAL_SECONDS`, default 60: one PutMetricData per interval.
   * 60 matches CloudWatch's standard resolution; shorter costs more API calls
   * for no finer graphs (tests use 1).
   */
  intervalSeconds: number;
  /** `AWS_REGION` (ECS sets it on every task); required with a namespace. */
  region: string;
  /** `CLOUDWATCH_ENDPOINT`, optional: an http(s) URL replacing the regional endpoint (tests, VPC endpoints). */
  endpoint: string | undefined;
}

export interface PublishConfig {
  /**
   * The bearer secret services send as `Authorization: Bearer <secret>`
   * (`PUBLISH_SECRET`, at least 32 characters, unset by default). Unset, the
   * endpoint answers 403 `publishing_disabled`. It is not a user token: give
   * it only to backend services (the CDK stack passes it as an ECS secret).
   */
  secret: string | undefined;
  /** Largest request body, in bytes (`PUBLISH_MAX_BYTES`, default 65536); a larger one gets 413. */
  maxBytes: number;
  /**
   * Sustained publishes per second per credential, and per client IP for
   * failed authentications (`PUBLISH_RATE_PER_SECOND`, default 200), with
   * bursts up to `PUBLISH_RATE_BURST` (default 400); beyond, 429. Per gateway
   * task: the fleet admits tasks x rate. Raise it for a chatty call router.
   */
  ratePerSecond: number;
  burst: number;
}

export type AuthMode = "hs256" | "jwks" | "none";

export interface AuthConfig {
  /**
   * `AUTH_MODE`, default `hs256`. `hs256`: tokens signed with a secret shared
   * with the token issuer (AUTH_SECRET); `jwks`: tokens signed by an identity
   * provider (RS256/ES256) whose public keys are at AUTH_JWKS_URL; `none`:
   * no authentication at all, for local experiments only. Authentication is
   * on unless switched off explicitly.
   */
  mode: AuthMode;
  /** `AUTH_SECRET`, at least 32 bytes; required for hs256. Never logged. */
  secret: string | undefined;
  /** `AUTH_JWKS_URL`, http(s) URL of the identity provider's JWKS; required for jwks. */
  jwksUrl: string | undefined;
  /** `AUTH_ISSUER`: required `iss`. Optional for hs256, required for jwks (an IdP signs tokens for many apps). */
  issuer: string | undefined;
  /** `AUTH_AUDIENCE`: required `aud`. Optional for hs256, required for jwks. */
  audience: string | undefined;
  /** `AUTH_TENANT_CLAIM`, default `tenant`: the claim naming the user's tenant (e.g. `custom:tenant` for Cognito). */
  tenantClaim: string;
  /** `AUTH_CLOCK_TOLERANCE_SECONDS`, default 10: skew allowed on exp/nbf/iat between the issuer's clock and ours. */
  clockToleranceSeconds: number;
  /**
   * `AUTH_JWKS_COOLDOWN_SECONDS`, default 30: a token naming a key id the
   * cached JWKS lacks refetches it, at most this often. Lower picks up a
   * rotated key sooner; higher protects the IdP from tokens with made-up
   * key ids. (The cache is also refreshed every 10 minutes regardless.)
   */
  jwksCooldownSeconds: number;
}

export interface LimitsConfig {
  /** `MAX_CONNECTIONS_PER_USER`, default 5: open sockets per (tenant, sub) across the whole fleet; 0 = no limit. */
  maxConnectionsPerUser: number;
  /**
   * `CONNECTION_LEASE_SECONDS`, default 30: how long a gateway's count of a
   * user's connections stays valid in Redis unless the gateway renews it
   * (every third of this). After a gateway dies without cleaning up, its
   * users get their slots back within this time. Shorter = faster recovery,
   * more renewal traffic.
   */
  connectionLeaseSeconds: number;
  /**
   * `CONNECTION_LIMIT_ON_REDIS_ERROR`, default `open`: when Redis cannot
   * answer the admission check, `open` lets the connection in (logged and
   * counted: availability over strictness), `closed` refuses it with
   * `unavailable`.
   */
  onRedisError: "open" | "closed";
  /** `CONNECT_RATE_PER_IP` (new connections per second per client IP, default 10) and `CONNECT_BURST_PER_IP` (default 20). 0 = no limit. */
  connectRatePerIp: number;
  connectBurstPerIp: number;
  /** `EVENT_RATE_PER_SECOND` (default 100) and `EVENT_BURST` (default 200): events a client connection may send. 0 = no limit. */
  eventRatePerSecond: number;
  eventBurst: number;
  /** `EVENT_RATE_DISCONNECT_AFTER`, default 100: a connection with more dropped events than this within 10 s is disconnected. */
  eventRateDisconnectAfter: number;
  /** `ALLOWED_ORIGINS`: comma-separated exact origins (https://app.example.com) browsers may connect from; empty = any. Non-browser clients send no Origin and are not affected. */
  allowedOrigins: string[];
  /** `MAX_EVENT_DATA_DEPTH`, default 8: deepest nesting of objects/arrays in a `call:event`'s data. */
  maxEventDataDepth: number;
}

export function parseGatewayConfig(env: Env = process.env): GatewayConfig {
  const port = integer(env, "PORT", { min: 1, max: 65535, fallback: 3000 });
  const host = text(env, "HOST", "0.0.0.0");
  const mode = oneOf(env, "REDIS_MODE", ["cluster", "single", "memory"] as const, "cluster");
  const nodes = mode === "memory" ? optionalNodes(env) : requiredNodes(env);
  if (mode === "single" && nodes.length !== 1) {
    throw new ConfigError("REDIS_NODES", env.REDIS_NODES, "exactly one host:port when REDIS_MODE=single");
  }
  const pingIntervalMs = integer(env, "PING_INTERVAL_MS", { min: 1000, max: 300_000, fallback: 25_000 });
  const pingTimeoutMs = integer(env, "PING_TIMEOUT_MS", { min: 1000, max: 120_000, fallback: 20_000 });
  // The NLB's 350 s idle timeout bounds the heartbeat: a connection with no
  // traffic for longer is cut without either side knowing.
  if (pingIntervalMs + pingTimeoutMs >= 350_000) {
    throw new ConfigError(
      "PING_INTERVAL_MS",
      env.PING_INTERVAL_MS,
      "PING_INTERVAL_MS + PING_TIMEOUT_MS below 350000 (the NLB's TCP idle timeout)",
    );
  }
  return {
    port,
    host,
    gatewayId: text(env, "GATEWAY_ID", `gw-${port}-${process.pid}`),
    namespaces: namespaces(env),
    redis: {
      mode,
      nodes,
      tls: boolean(env, "REDIS_TLS", false),
      auth: env.REDIS_AUTH === "" ? undefined : env.REDIS_AUTH,
      publishTimeoutMs: integer(env, "PUBLISH_TIMEOUT_MS", { min: 50, max: 60_000, fallback: 2000 }),
    },
    pingIntervalMs,
    pingTimeoutMs,
    engine: oneOf(env, "ENGINE", ["lean", "stock"] as const, "lean"),
    maxFrameBytes: integer(env, "MAX_FRAME_BYTES", { min: 1024, max: 10_000_000, fallback: 32_768 }),
    maxBufferedBytes: integer(env, "MAX_BUFFERED_BYTES", { min: 0, max: 1_073_741_824, fallback: 1_048_576 }),
    maxEventDataBytes: integer(env, "MAX_EVENT_DATA_BYTES", { min: 16, max: 10_000_000, fallback: 16_384 }),
    receiptTimeoutMs: integer(env, "RECEIPT_TIMEOUT_MS", { min: 50, max: 60_000, fallback: 5000 }),
    drainSeconds: integer(env, "DRAIN_SECONDS", { min: 0, max: 3600, fallback: 30 }),
    drainGraceSeconds: integer(env, "DRAIN_GRACE_SECONDS", { min: 0, max: 3600, fallback: 5 }),
    logLevel: oneOf(env, "LOG_LEVEL", ["debug", "info", "warn", "error"] as const, "info"),
    shardChannelsPollSeconds: integer(env, "SHARD_CHANNELS_POLL_SECONDS", { min: 1, max: 3600, fallback: 10 }),
    cloudwatch: cloudwatch(env),
    publish: publishConfig(env),
    auth: parseAuth(env),
    limits: parseLimits(env),
  };
}

function cloudwatch(env: Env): CloudWatchConfig | undefined {
  const namespace = env.CLOUDWATCH_NAMESPACE?.trim();
  if (!namespace) return undefined;
  // CloudWatch accepts 1-255 characters of this set in a namespace, and none starting with "AWS/".
  if (!/^[A-Za-z0-9.\-_/#:]{1,255}$/.test(namespace) || namespace.startsWith("AWS/")) {
    throw new ConfigError("CLOUDWATCH_NAMESPACE", env.CLOUDWATCH_NAMESPACE, "1-255 of A-Z a-z 0-9 . - _ / # :, not starting with AWS/");
  }
  const required = (name: string, expected: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(name, env[name], `${expected} when CLOUDWATCH_NAMESPACE is set`);
    return value;
  };
  const endpoint = env.CLOUDWATCH_ENDPOINT?.trim() || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
    throw new ConfigError("CLOUDWATCH_ENDPOINT", env.CLOUDWATCH_ENDPOINT, "an http:// or https:// URL");
  }
  return {
    namespace,
    serviceName: required("SERVICE_NAME", "the ServiceName dimension value (1-1024 characters)"),
    intervalSeconds: integer(env, "CLOUDWATCH_INTERVAL_SECONDS", { min: 1, max: 3600, fallback: 60 }),
    region: required("AWS_REGION", "an AWS region such as eu-west-1"),
    endpoint,
  };
}

function publishConfig(env: Env): PublishConfig {
  const secret = env.PUBLISH_SECRET === "" ? undefined : env.PUBLISH_SECRET;
  // Shorter secrets are within reach of guessing at the allowed request rate.
  if (secret !== undefined && (secret.length < 32 || /\s/.test(secret))) {
    throw new ConfigError("PUBLISH_SECRET", "(hidden)", "at least 32 characters without spaces, e.g. `openssl rand -hex 32`");
  }
  const ratePerSecond = integer(env, "PUBLISH_RATE_PER_SECOND", { min: 1, max: 1_000_000, fallback: 200 });
  return {
    secret,
    maxBytes: integer(env, "PUBLISH_MAX_BYTES", { min: 256, max: 10_000_000, fallback: 65_536 }),
    ratePerSecond,
    burst: integer(env, "PUBLISH_RATE_BURST", { min: 1, max: 10_000_000, fallback: ratePerSecond * 2 }),
  };
}

function parseAuth(env: Env): AuthConfig {
  const mode = oneOf(env, "AUTH_MODE", ["hs256", "jwks", "none"] as const, "hs256");
  const optional = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const auth: AuthConfig = {
    mode,
    secret: optional("AUTH_SECRET"),
    jwksUrl: optional("AUTH_JWKS_URL"),
    issuer: optional("AUTH_ISSUER"),
    audience: optional("AUTH_AUDIENCE"),
    tenantClaim: text(env, "AUTH_TENANT_CLAIM", "tenant"),
    clockToleranceSeconds: integer(env, "AUTH_CLOCK_TOLERANCE_SECONDS", { min: 0, max: 300, fallback: 10 }),
    jwksCooldownSeconds: integer(env, "AUTH_JWKS_COOLDOWN_SECONDS", { min: 1, max: 3600, fallback: 30 }),
  };
  if (mode === "hs256") {
    // The secret is never echoed: ConfigError prints the received value.
    if (auth.secret === undefined) {
      throw new ConfigError("AUTH_SECRET", undefined, "a shared secret of at least 32 bytes (AUTH_MODE defaults to hs256); set AUTH_SECRET, or AUTH_MODE=none to run without authentication");
    }
    // RFC 7518 3.2: an HS256 key must be at least as long as the hash (32 bytes).
    if (Buffer.byteLength(auth.secret) < 32) {
      throw new ConfigError("AUTH_SECRET", `(${Buffer.byteLength(auth.secret)} bytes, hidden)`, "at least 32 bytes (RFC 7518: an HS256 key is no shorter than its hash)");
    }
  }
  if (mode === "jwks") {
    if (!auth.jwksUrl || !/^https?:\/\/[^\s]+$/.test(auth.jwksUrl)) {
      throw new ConfigError("AUTH_JWKS_URL", env.AUTH_JWKS_URL, "the http(s) URL of the identity provider's JWKS when AUTH_MODE=jwks");
    }
    if (!auth.issuer) throw new ConfigError("AUTH_ISSUER", env.AUTH_ISSUER, "the tokens' issuer (iss) when AUTH_MODE=jwks");
    if (!auth.audience) throw new ConfigError("AUTH_AUDIENCE", env.AUTH_AUDIENCE, "this service's audience (aud) when AUTH_MODE=jwks");
  }
  return auth;
}

function parseLimits(env: Env): LimitsConfig {
  const origins = (env.ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const origin of origins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
      throw new ConfigError("ALLOWED_ORIGINS", env.ALLOWED_ORIGINS, "comma-separated origins like https://app.example.com (scheme, host, optional port; no path)");
    }
  }
  return {
    maxConnectionsPerUser: integer(env, "MAX_CONNECTIONS_PER_USER", { min: 0, max: 100_000, fallback: 5 }),
    connectionLeaseSeconds: integer(env, "CONNECTION_LEASE_SECONDS", { min: 3, max: 3600, fallback: 30 }),
    onRedisError: oneOf(env, "CONNECTION_LIMIT_ON_REDIS_ERROR", ["open", "closed"] as const, "open"),
    connectRatePerIp: integer(env, "CONNECT_RATE_PER_IP", { min: 0, max: 1_000_000, fallback: 10 }),
    connectBurstPerIp: integer(env, "CONNECT_BURST_PER_IP", { min: 1, max: 1_000_000, fallback: 20 }),
    eventRatePerSecond: integer(env, "EVENT_RATE_PER_SECOND", { min: 0, max: 1_000_000, fallback: 100 }),
    eventBurst: integer(env, "EVENT_BURST", { min: 1, max: 1_000_000, fallback: 200 }),
    eventRateDisconnectAfter: integer(env, "EVENT_RATE_DISCONNECT_AFTER", { min: 1, max: 1_000_000, fallback: 100 }),
    allowedOrigins: origins.map((o) => o.toLowerCase()),
    maxEventDataDepth: integer(env, "MAX_EVENT_DATA_DEPTH", { min: 1, max: 64, fallback: 8 }),
  };
}

function text(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  return raw;
}

function integer(env: Env, name: string, o: { min: number; max: number; fallback: number }): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return o.fallback;
  const expected = `an integer from ${o.min} to ${o.max}`;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, raw, expected);
  const value = Number(raw.trim());
  if (value < o.min || value > o.max) throw new ConfigError(name, raw, expected);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = raw.trim().toLowerCase();
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new ConfigError(name, raw, "true or false");
}

function oneOf<const T extends readonly string[]>(env: Env, name: string, values: T, fallback: T[number]): T[number] {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!values.includes(raw)) throw new ConfigError(name, raw, `one of ${values.join(", ")}`);
  return raw as T[number];
}

const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/;

function parseNodes(env: Env): RedisNode[] {
  const raw = env.REDIS_NODES ?? "";
  const expected = "comma-separated host:port seed nodes, e.g. 127.0.0.1:7000,127.0.0.1:7001";
  const nodes = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((entry) => {
      const m = HOST_PORT.exec(entry);
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) throw new ConfigError("REDIS_NODES", raw, expected);
      return { host: m[1].replace(/^\[|\]$/g, ""), port };
    });
  if (nodes.length === 0) throw new ConfigError("REDIS_NODES", env.REDIS_NODES, expected);
  return nodes;
}

function requiredNodes(env: Env): RedisNode[] {
  return parseNodes(env);
}

function optionalNodes(env: Env): RedisNode[] {
  return env.REDIS_NODES ? parseNodes(env) : [];
}

function namespaces(env: Env): NamespaceName[] {
  const raw = env.NAMESPACES;
  if (raw === undefined || raw.trim() === "") return [...ALL_NAMESPACES];
  const list = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = list.filter((n) => !(ALL_NAMESPACES as readonly string[]).includes(n));
  if (unknown.length > 0 || list.length === 0) {
    throw new ConfigError("NAMESPACES", raw, `a comma-separated subset of ${ALL_NAMESPACES.join(",")}`);
  }
  return [...new Set(list)] as NamespaceName[];
}
