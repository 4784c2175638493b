/**
 * Plain HTTP on the gateway's port, beside Socket.IO: liveness, readiness and
 * metrics. Socket.IO answers its own path (/socket.io/) before these run.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import { PUBLISH_PATH } from "./protocol.js";
import type { ConsoleAssets } from "./console-assets.js";

export interface Readiness {
  ready: boolean;
  /** Why the gateway is not ready: draining, redis down, starting. */
  reason?: string;
  detail?: unknown;
}

export interface HttpRouteDeps {
  gatewayId: string;
  readiness(): Readiness;
  registry: Registry;
  /** POST /v1/publish (publish-endpoint.ts); it answers every method on its path itself. */
  publish?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** The console page at / and its /assets/ (console-assets.ts). */
  consoleAssets?: ConsoleAssets;
}

export function createHttpRoutes(deps: HttpRouteDeps) {
  return async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path === PUBLISH_PATH && deps.publish) return deps.publish(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(res, 405, { error: "method_not_allowed", message: `${req.method} is not served here` });
    }
    switch (path) {
      case "/healthz":
        return json(res, 200, { ok: true, gateway: deps.gatewayId });
      case "/readyz": {
        const r = deps.readiness();
        return json(res, r.ready ? 200 : 503, { ready: r.ready, gateway: deps.gatewayId, reason: r.reason, detail: r.detail });
      }
      case "/metrics": {
        const body = await deps.registry.metrics();
        res.writeHead(200, { "content-type": deps.registry.contentType });
        res.end(body);
        return;
      }
      default:
        if (deps.consoleAssets?.serve(path, req, res)) return;
        return json(res, 404, { error: "not_found", message: `no route for ${path}` });
    }
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
