/**
 * Who gets a connection: a middleware on every served namespace that checks,
 * cheapest first, the browser Origin, the client IP's rate of new
 * connections, the token, and the user's connection count across the fleet.
 * A refusal reaches the client as `connect_error` with `err.data = { code,
 * message }` (CONNECT_ERROR_CODE); the gateway counts it and logs the reason,
 * never the token.
 */
import type { Namespace, Server, Socket } from "socket.io";
import type { Bus } from "./bus.js";
import type { GatewayConfig } from "./config.js";
import { ANONYMOUS_TENANT, setIdentity } from "./identity.js";
import type { Logger } from "./log.js";
import type { GatewayMetrics } from "./metrics.js";
import { CONNECT_ERROR_CODE, type ConnectErrorCode, type ConnectErrorData } from "./protocol.js";
import { KeyedTokenBuckets } from "./token-bucket.js";
import { createTokenVerifier } from "./token-verifier.js";
import { createUserConnections } from "./user-connections.js";
import { Counter } from "prom-client";

export interface AdmissionDeps {
  config: GatewayConfig;
  bus: Bus;
  metrics: GatewayMetrics;
  log: Logger;
}

export interface Admission {
  /** Installs the checks on each served namespace and refuses the main namespace `/`. */
  install(server: Server, namespaces: Namespace[]): void;
  close(): Promise<void>;
}

type Next = (err?: Error) => void;

const TOKEN_REMOVED: Record<string, unknown> = Object.freeze({});
/** Each admitted socket's slot release, found by the shared disconnect listener. */
const releases = new WeakMap<Socket, () => void>();
function releaseOnDisconnect(this: Socket): void {
  releases.get(this)?.();
  releases.delete(this);
}
/**
 * Until a socket connects, its transport may close first (Socket.IO then
 * drops it without a "disconnect"), so admission listens for that close;
 * once connected, "disconnect" covers it and the close listener goes, which
 * leaves an idle connection with no listener of ours on its transport.
 */
function stopWatchingTransport(socket: Socket): void {
  const release = releases.get(socket);
  if (release) socket.conn.off("close", release);
}

export function createAdmission({ config, bus, metrics, log }: AdmissionDeps): Admission {
  const { auth, limits } = config;
  const verifier = auth.mode === "none" ? undefined : createTokenVerifier(auth);
  const storeErrors = new Counter({
    name: "connection_limit_store_errors_total",
    help: "Connection-limit scripts Redis could not answer, by operation (admit, release, renew) and, for admit, the decision taken (CONNECTION_LIMIT_ON_REDIS_ERROR)",
    labelNames: ["operation", "decision"],
    registers: [metrics.registry],
  });
  const storeErrorLog = throttled(log);
  const users = createUserConnections(
    bus,
    {
      max: limits.maxConnectionsPerUser,
      leaseSeconds: limits.connectionLeaseSeconds,
      onRedisError: limits.onRedisError,
      gatewayId: config.gatewayId,
      onStoreError: (operation, err, admitted) => {
        const decision = admitted === undefined ? "none" : admitted ? "admitted" : "refused";
        storeErrors.inc({ operation, decision });
        // Release and renewal errors heal themselves at the next renewal.
        storeErrorLog("connection limit: redis did not answer", { code: operation, decision, policy: limits.onRedisError, error: err.message });
      },
    },
    log,
  );
  const perIp = limits.connectRatePerIp > 0 ? new KeyedTokenBuckets(limits.connectRatePerIp, limits.connectBurstPerIp) : undefined;
  const origins = new Set(limits.allowedOrigins);
  const refusalLog = throttled(log);

  if (auth.mode === "none") {
    log.warn("AUTH_MODE=none: authentication is OFF; anyone who reaches this port may join any call of tenant " + ANONYMOUS_TENANT);
  } else {
    log.info("authentication on", { mode: auth.mode, issuer: auth.issuer, audience: auth.audience, tenantClaim: auth.tenantClaim });
    if (!auth.issuer || !auth.audience) {
      log.warn("AUTH_ISSUER or AUTH_AUDIENCE unset: any token signed with AUTH_SECRET is accepted, whoever it was issued for");
    }
  }

  function refuse(socket: Socket, next: Next, code: ConnectErrorCode, message: string, fields: Record<string, unknown> = {}): void {
    metrics.connectionsRejected.inc({ namespace: socket.nsp.name, reason: code });
    refusalLog("connection refused", { namespace: socket.nsp.name, code, reason: message, ip: socket.handshake.address, ...fields });
    const err = new Error(message) as Error & { data: ConnectErrorData };
    err.data = { code, message };
    next(err);
  }

  async function admit(socket: Socket, next: Next): Promise<void> {
    const origin = socket.handshake.headers.origin;
    if (origins.size > 0 && origin !== undefined && !origins.has(origin.toLowerCase())) {
      return refuse(socket, next, CONNECT_ERROR_CODE.originForbidden, `origin ${JSON.stringify(origin.slice(0, 100))} is not allowed`);
    }
    // The NLB preserves client IPs, so the peer address is the client's own.
    if (perIp && !perIp.take(socket.handshake.address)) {
      return refuse(socket, next, CONNECT_ERROR_CODE.rateLimited, "too many new connections from this address; retry later");
    }
    if (!verifier) {
      setIdentity(socket, { sub: `anonymous-${socket.id}`, tenant: ANONYMOUS_TENANT, authenticated: false, claims: {} });
      return next();
    }
    const handshakeAuth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = handshakeAuth && typeof handshakeAuth === "object" ? handshakeAuth.token : undefined;
    if (token === undefined && socket.handshake.query.token !== undefined) {
      // Query strings end up in access logs; do not accept a token there.
      return refuse(socket, next, CONNECT_ERROR_CODE.authMissing, "send the token as auth.token in the handshake, not in the query string");
    }
    const verified = await verifier.verify(token);
    if (!verified.ok) return refuse(socket, next, verified.code, verified.message);
    const identity = verified.identity;
    const slot = await users.admit(identity);
    if (!slot.ok) {
      return slot.reason === "limit"
        ? refuse(socket, next, CONNECT_ERROR_CODE.tooManyConnections, `this user already has ${limits.maxConnectionsPerUser} connections open (MAX_CONNECTIONS_PER_USER)`, { sub: identity.sub, tenant: identity.tenant })
        : refuse(socket, next, CONNECT_ERROR_CODE.unavailable, "the connection limit cannot be checked right now; retry later");
    }
    // The token has done its job: keep no credential in memory for the
    // connection's life (and no ~200 bytes per socket).
    // (Replaced, not `delete`d: deleting a property sends an object to
    // dictionary mode, which costs more than the token.)
    socket.handshake.auth = TOKEN_REMOVED;
    // Released when this namespace's socket disconnects, or when the
    // transport closes before the connection completes (no disconnect then).
    // `release` runs once however often it is called; the disconnect
    // listener is one shared function, not a closure per socket.
    releases.set(socket, slot.release);
    socket.on("disconnect", releaseOnDisconnect);
    socket.conn.once("close", slot.release);
    if (socket.conn.readyState !== "open") slot.release();
    setIdentity(socket, identity);
    next();
  }

  return {
    install(server, namespaces) {
      // Nothing is served on `/`; refusing it stops unauthenticated clients
      // from holding sockets there.
      server.of("/").use((socket, next) => refuse(socket, next, CONNECT_ERROR_CODE.namespaceNotServed, "connect to /calls or /dashboard"));
      for (const nsp of namespaces) {
        nsp.on("connection", stopWatchingTransport);
        nsp.use((socket, next) => {
          admit(socket, next).catch((err) => {
            log.error("admission failed", { namespace: nsp.name, error: err as Error });
            refuse(socket, next, CONNECT_ERROR_CODE.unavailable, "the gateway could not check this connection; retry later");
          });
        });
      }
    },
    async close() {
      perIp?.close();
      await users.close();
    },
  };
}

/** At most 20 lines per message per 10 s: a flood of refusals must not become a flood of logs. */
function throttled(log: Logger): (msg: string, fields: Record<string, unknown>) => void {
  let windowStart = 0;
  const counts = new Map<string, number>();
  return (msg, fields) => {
    const now = Date.now();
    if (now - windowStart > 10_000) {
      for (const [key, n] of counts) if (n > 20) log.warn("log lines suppressed", { msg: key, suppressed: n - 20 });
      counts.clear();
      windowStart = now;
    }
    const key = `${msg}:${String(fields.code ?? "")}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    if (n <= 20) log.info(msg, fields);
  };
}
