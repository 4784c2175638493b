/**
 * POST /v1/publish: how a backend service that cannot hold a Redis
 * connection (a webhook, a script) puts an event into a call's room. Any
 * gateway task answers; the bus carries the event to every gateway with
 * members. The body is `{ room, event, data, namespace?, service? }`; the
 * clients receive a `call:event` shaped like a member's relay
 * (service-events.ts).
 *
 * Statuses: 202 published and acknowledged by the bus; 400 a field is wrong
 * (`error.field` names it); 401 missing or wrong credential; 403 publishing
 * disabled (PUBLISH_SECRET unset); 405 not a POST; 413 body too large;
 * 429 rate limit (Retry-After); 503 the bus did not acknowledge (retry).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, type Registry } from "prom-client";
import type { PublishConfig } from "./config.js";
import type { Logger } from "./log.js";
import {
  ALL_NAMESPACES,
  ERROR_CODE,
  EVENT_TYPE_PATTERN,
  SERVER_EVENT,
  SERVICE_NAME_PATTERN,
  type NamespaceName,
  type RelayedCallEvent,
} from "./protocol.js";
import { createRateLimiter } from "./publish-rate.js";
import { serviceCallEvent } from "./service-events.js";
import { checkNamespace, checkRoom, describe } from "./validation.js";

/** One namespace's delivery: what went on the bus. */
export interface Delivery {
  namespace: string;
  room: string;
  /** The sharded channel, or undefined when the gateway runs without Redis (memory mode). */
  channel?: string;
  /** Subscriptions on the owning shard that received it (gateways with members, for a room channel). */
  receivers?: number;
}

export interface PublishEndpointDeps {
  config: PublishConfig;
  gatewayId: string;
  /**
   * Emits `event` to `room` in `namespace` and resolves once the bus has
   * acknowledged it; rejects when it did not (or the gateway is not started).
   */
  deliver(namespace: NamespaceName, room: string, event: string, payload: unknown): Promise<Delivery>;
  registry: Registry;
  log: Logger;
}

const BODY_FIELDS = ["namespace", "room", "event", "data", "service"];
const DEFAULT_SERVICE = "publisher";

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { field?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

export function createPublishEndpoint(deps: PublishEndpointDeps) {
  const limiter = createRateLimiter(deps.config);
  const secretDigest = deps.config.secret === undefined ? undefined : sha256(deps.config.secret);
  const requests = new Counter({
    name: "publish_requests_total",
    help: "POST /v1/publish requests, by HTTP status",
    labelNames: ["status"],
    registers: [deps.registry],
  });

  return async function publish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let status: number;
    try {
      const body = await handle(req);
      status = 202;
      send(res, 202, body);
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(500, "internal", "the gateway failed to handle this request");
      if (!(err instanceof HttpError)) deps.log.error("publish endpoint failed", { error: err as Error });
      status = e.status;
      send(res, e.status, { ok: false, error: { code: e.code, message: e.message, field: e.extra.field } }, e.extra.headers);
      // The rest of an oversized or refused body is not worth reading.
      if (!req.complete) res.once("finish", () => req.destroy());
    }
    requests.inc({ status: String(status) });
  };

  async function handle(req: IncomingMessage): Promise<unknown> {
    if (req.method !== "POST") {
      throw new HttpError(405, "method_not_allowed", `${req.method} is not served here; POST a JSON body`, { headers: { allow: "POST" } });
    }
    if (secretDigest === undefined) {
      throw new HttpError(403, ERROR_CODE.publishingDisabled, "publishing is disabled on this gateway: PUBLISH_SECRET is not set");
    }
    const credential = bearer(req.headers.authorization);
    const authentic = credential !== undefined && timingSafeEqual(sha256(credential), secretDigest);
    // Failed attempts spend the client IP's tokens, so guessing is as slow as the rate limit.
    const bucket = authentic ? "credential:publish-secret" : `ip:${req.socket.remoteAddress ?? "unknown"}`;
    const allowed = limiter.take(bucket);
    if (!allowed.ok) {
      throw new HttpError(429, ERROR_CODE.rateLimited, `over ${deps.config.ratePerSecond} publishes per second; retry after ${allowed.retryAfterSeconds} s`, {
        headers: { "retry-after": String(allowed.retryAfterSeconds) },
      });
    }
    if (!authentic) {
      throw new HttpError(
        401,
        ERROR_CODE.unauthorized,
        credential === undefined ? "send the service credential as Authorization: Bearer <PUBLISH_SECRET>" : "the bearer credential is not valid",
        { headers: { "www-authenticate": 'Bearer realm="switchboard-publish"' } },
      );
    }

    const input = parseBody(await readBody(req, deps.config.maxBytes));
    const payload: RelayedCallEvent = serviceCallEvent({ ...input, via: deps.gatewayId });
    let deliveries: Delivery[];
    try {
      deliveries = await Promise.all(input.namespaces.map((n) => deps.deliver(n, input.room, SERVER_EVENT.callEvent, payload)));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === ERROR_CODE.dataTooLarge) throw new HttpError(413, ERROR_CODE.dataTooLarge, (err as Error).message, { field: "data" });
      deps.log.warn("publish not acknowledged by the bus", { room: input.room, error: err as Error });
      throw new HttpError(
        503,
        ERROR_CODE.publishFailed,
        "the bus did not acknowledge the event; it may have reached some gateways; retry",
        { headers: { "retry-after": "1" } },
      );
    }
    deps.log.debug("published", { room: input.room, type: input.type, service: input.service });
    return { ok: true, event: SERVER_EVENT.callEvent, payload, deliveries };
  }
}

interface PublishInput {
  namespaces: NamespaceName[];
  room: string;
  type: string;
  data: unknown;
  service: string;
}

function parseBody(raw: Buffer): PublishInput {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, ERROR_CODE.invalidBody, "the body must be a JSON object { room, event, data }", { field: "body" });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, ERROR_CODE.invalidBody, `the body must be a JSON object { room, event, data }, got ${describe(body)}`, { field: "body" });
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !BODY_FIELDS.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(400, ERROR_CODE.invalidBody, `unknown field ${JSON.stringify(unknown[0])}; the fields are ${BODY_FIELDS.join(", ")}`, {
      field: unknown[0],
    });
  }
  // Without a namespace the event goes where a member's relay goes: the call's members and its dashboard watchers.
  let namespaces = [...ALL_NAMESPACES];
  if (fields.namespace !== undefined) {
    const ns = checkNamespace(fields.namespace);
    if (!ns.ok) throw new HttpError(400, ns.error.code, ns.error.message, { field: "namespace" });
    namespaces = [ns.value];
  }
  const room = checkRoom(fields.room);
  if (!room.ok) throw new HttpError(400, room.error.code, room.error.message, { field: "room" });
  if (typeof fields.event !== "string" || !EVENT_TYPE_PATTERN.test(fields.event)) {
    throw new HttpError(400, ERROR_CODE.invalidEvent, `event must be 1-64 characters of [A-Za-z0-9_.:-], got ${describe(fields.event)}`, {
      field: "event",
    });
  }
  const service = fields.service ?? DEFAULT_SERVICE;
  if (typeof service !== "string" || !SERVICE_NAME_PATTERN.test(service)) {
    throw new HttpError(400, ERROR_CODE.invalidBody, `service must be 1-64 characters of [A-Za-z0-9_-], got ${describe(service)}`, {
      field: "service",
    });
  }
  return { namespaces, room: room.value, type: fields.event, data: fields.data ?? null, service };
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, ERROR_CODE.bodyTooLarge, `the body is over ${maxBytes} bytes (PUBLISH_MAX_BYTES)`, { field: "body" });
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  // Listeners rather than for-await: leaving a for-await loop destroys the
  // request, and with it the socket the 413 must be written to.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new HttpError(400, ERROR_CODE.invalidBody, `the body could not be read: ${err.message}`, { field: "body" }));
    };
    const cleanup = () => {
      req.off("data", onData).off("end", onEnd).off("error", onError);
    };
    req.on("data", onData).on("end", onEnd).on("error", onError);
  });
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
  return m?.[1];
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}
