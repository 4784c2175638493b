/**
 * The console page and its assets, served from a fixed allowlist: a request
 * path is looked up in a map and never joined onto a file path, so no URL can
 * reach any other file. Files are read once at start-up (about 60 kB in all).
 *
 * `gateway/public/` sits beside `gateway/src/` and `gateway/dist/`, so the
 * same relative URL finds it under tsx and in the built image. The Socket.IO
 * client bundle comes from the installed `socket.io-client` package, never a
 * CDN: a deployment may have no internet, and the bundle then always matches
 * the server's protocol version.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "./log.js";

export const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));

function socketIoClientBundle(): string {
  // The package's `exports` do not list the minified bundle; its package.json is listed.
  const pkg = createRequire(import.meta.url).resolve("socket.io-client/package.json");
  return join(dirname(pkg), "dist", "socket.io.min.js");
}

const JS = "text/javascript; charset=utf-8";

/** URL path -> file and content type. The only paths this module answers. */
const ROUTES: ReadonlyArray<{ path: string; file: () => string; type: string }> = [
  { path: "/", file: () => join(PUBLIC_DIR, "index.html"), type: "text/html; charset=utf-8" },
  { path: "/assets/console.css", file: () => join(PUBLIC_DIR, "console.css"), type: "text/css; charset=utf-8" },
  { path: "/assets/console.js", file: () => join(PUBLIC_DIR, "console.js"), type: JS },
  { path: "/assets/console-errors.js", file: () => join(PUBLIC_DIR, "console-errors.js"), type: JS },
  { path: "/assets/socket.io.min.js", file: socketIoClientBundle, type: JS },
];

/**
 * No inline script or style, no third-party origin: the page talks only to
 * the gateway that served it (`'self'` covers its ws:/wss: in current
 * browsers; they are listed for older ones).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface ConsoleAssets {
  /** Answers the request and returns true when `path` is one of the console's; false otherwise. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): boolean;
}

export function loadConsoleAssets(log: Logger): ConsoleAssets {
  const assets = new Map<string, Asset | Error>();
  for (const route of ROUTES) {
    try {
      const body = readFileSync(route.file());
      const etag = `"${createHash("sha1").update(body).digest("base64url")}"`;
      assets.set(route.path, { body, type: route.type, etag });
    } catch (err) {
      assets.set(route.path, err as Error);
    }
  }
  const missing = [...assets].filter(([, a]) => a instanceof Error);
  if (missing.length > 0) {
    log.warn("console page unavailable: asset files missing", {
      paths: missing.map(([p]) => p),
      error: (missing[0][1] as Error).message,
      expected: `gateway/public/ at ${PUBLIC_DIR} and the socket.io-client package`,
    });
  }

  return {
    serve(path, req, res) {
      const asset = assets.get(path);
      if (asset === undefined) return false;
      if (asset instanceof Error) {
        const text = JSON.stringify({ error: "console_unavailable", message: `the console's files are not installed on this gateway (${path})` });
        res.writeHead(503, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
        return true;
      }
      const headers = {
        "content-type": asset.type,
        etag: asset.etag,
        // Unversioned names: the browser keeps a copy but asks each time, and
        // an unchanged file costs a 304 with no body. A new image's files are
        // seen on the next load.
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "content-security-policy": CONTENT_SECURITY_POLICY,
      };
      if (req.headers["if-none-match"] === asset.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      res.writeHead(200, { ...headers, "content-length": asset.body.length });
      res.end(req.method === "HEAD" ? undefined : asset.body);
      return true;
    },
  };
}
