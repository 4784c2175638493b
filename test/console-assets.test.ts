/**
 * The console's files over real HTTP from a gateway process: only the
 * allowlisted paths answer, with their content types and caching headers;
 * nothing else on disk is reachable; the error table covers every code.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { freePorts, startGatewayProcess, type GatewayProcess } from "../topology/index.js";
import { ERROR_CODE } from "../gateway/src/protocol.js";

const PUBLIC = new URL("../gateway/public/", import.meta.url);

/** A raw GET, so the path reaches the server exactly as written (fetch would normalise `..`). */
function rawGet(port: number, path: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("console assets served by the gateway", () => {
  let gw: GatewayProcess;

  before(async () => {
    const [port] = await freePorts(1);
    gw = startGatewayProcess({ port, env: { REDIS_MODE: "memory" } });
    await gw.waitReady();
  });
  after(async () => {
    await gw?.stop();
  });

  const FILES: Array<[string, string, URL | string]> = [
    ["/", "text/html; charset=utf-8", new URL("index.html", PUBLIC)],
    ["/assets/console.js", "text/javascript; charset=utf-8", new URL("console.js", PUBLIC)],
    ["/assets/console-errors.js", "text/javascript; charset=utf-8", new URL("console-errors.js", PUBLIC)],
    ["/assets/console.css", "text/css; charset=utf-8", new URL("console.css", PUBLIC)],
    [
      "/assets/socket.io.min.js",
      "text/javascript; charset=utf-8",
      createRequire(import.meta.url).resolve("socket.io-client/package.json").replace(/package\.json$/, "dist/socket.io.min.js"),
    ],
  ];

  for (const [path, type, file] of FILES) {
    it(`serves ${path} as ${type}, byte for byte, with revalidation headers`, async () => {
      const res = await rawGet(gw.port, path);
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-type"], type);
      assert.deepEqual(res.body, readFileSync(file));
      assert.equal(res.headers["cache-control"], "no-cache");
      assert.equal(res.headers["x-content-type-options"], "nosniff");
      assert.match(String(res.headers["content-security-policy"]), /script-src 'self'/);
      const etag = String(res.headers.etag);
      assert.match(etag, /^"[\w-]+"$/);
      const again = await rawGet(gw.port, path, { "if-none-match": etag });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      const head = await rawGet(gw.port, path, {}, "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.headers["content-length"], String(res.body.length));
    });
  }

  it("the page loads the Socket.IO client from the gateway itself, never from another origin", () => {
    const html = readFileSync(new URL("index.html", PUBLIC), "utf8");
    assert.match(html, /<script src="\/assets\/socket\.io\.min\.js"><\/script>/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, "no absolute URLs");
  });

  const OUTSIDE = [
    "/index.html",
    "/console.js",
    "/assets/",
    "/assets/../package.json",
    "/assets/%2e%2e/package.json",
    "/assets/..%2fpackage.json",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/assets/socket.io.min.js.map",
    "/assets/console.js/",
    "/ASSETS/console.js",
    "//assets/console.js",
    "/assets/console.js%00.png",
    "/gateway/src/config.ts",
    "/node_modules/socket.io-client/package.json",
  ];
  for (const path of OUTSIDE) {
    it(`answers 404 for ${path}`, async () => {
      const res = await rawGet(gw.port, path);
      assert.equal(res.status, 404);
      assert.equal(JSON.parse(res.body.toString()).error, "not_found");
    });
  }

  it("refuses writes to the page", async () => {
    const res = await rawGet(gw.port, "/", {}, "POST");
    assert.equal(res.status, 405);
  });

  it("a query string does not change what is served", async () => {
    const res = await rawGet(gw.port, "/?call=demo");
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /Switchboard console/);
  });
});

describe("console error table", () => {
  it("has a message for every ack code the gateway sends and every refusal code of authentication and admission", async () => {
    // A plain browser module, imported by URL so TypeScript does not check it.
    const mod = await import(pathToFileURL(new URL("console-errors.js", PUBLIC).pathname).href);
    const table = mod.ERROR_TEXT as Record<string, string>;
    // The authentication branch's codes (connect_error data.code and acks).
    const AUTH_CODES = ["auth_missing", "auth_invalid", "auth_expired", "rate_limited", "too_many_connections", "forbidden"];
    for (const code of [...Object.values(ERROR_CODE), ...AUTH_CODES, "internal"]) {
      assert.equal(typeof table[code], "string", `console-errors.js explains ${code}`);
      assert.ok(table[code].length > 10);
    }
    assert.equal(mod.describeError("no_such_code", "x").text, "Unexpected error from the gateway.");
    assert.deepEqual(mod.connectErrorCode({ message: "x", data: { code: "auth_expired", message: "token expired at 12:00" } }), {
      code: "auth_expired",
      detail: "token expired at 12:00",
    });
    assert.equal(mod.connectErrorCode(new Error("websocket error")).code, "unreachable");
  });
});
