import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import { ConfigError, parseGatewayConfig } from "../gateway/src/config.js";
import { GATEWAY_ENTRY, REPO_ROOT } from "../topology/gateway-process.js";

// A valid auth setting for tests about other variables (auth is on by default).
const AUTH = { AUTH_SECRET: "a-test-secret-of-at-least-32-bytes!!" };

describe("gateway configuration", () => {
  it("has working defaults for a cluster", () => {
    const c = parseGatewayConfig({ ...AUTH, REDIS_NODES: "10.0.0.1:6379" });
    assert.equal(c.port, 3000);
    assert.equal(c.redis.mode, "cluster");
    assert.deepEqual(c.redis.nodes, [{ host: "10.0.0.1", port: 6379 }]);
    assert.equal(c.redis.tls, false);
    assert.deepEqual(c.namespaces, ["/calls", "/dashboard"]);
  });

  it("parses every Redis setting", () => {
    const c = parseGatewayConfig({
      ...AUTH,
      PORT: "8080",
      REDIS_MODE: "cluster",
      REDIS_NODES: "clustercfg.x.cache.amazonaws.com:6379, 127.0.0.1:7001",
      REDIS_TLS: "true",
      REDIS_AUTH: "s3cret-token",
      NAMESPACES: "/calls",
    });
    assert.equal(c.port, 8080);
    assert.deepEqual(c.redis.nodes.map((n) => `${n.host}:${n.port}`), ["clustercfg.x.cache.amazonaws.com:6379", "127.0.0.1:7001"]);
    assert.equal(c.redis.tls, true);
    assert.equal(c.redis.auth, "s3cret-token");
    assert.deepEqual(c.namespaces, ["/calls"]);
  });

  it("needs no Redis nodes in memory mode", () => {
    assert.equal(parseGatewayConfig({ ...AUTH, REDIS_MODE: "memory" }).redis.mode, "memory");
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ PORT: "abc", REDIS_NODES: "h:1" }, "PORT", /PORT="abc": expected an integer from 1 to 65535/],
    [{ PORT: "70000", REDIS_NODES: "h:1" }, "PORT", /expected an integer from 1 to 65535/],
    [{ REDIS_MODE: "clustr", REDIS_NODES: "h:1" }, "REDIS_MODE", /REDIS_MODE="clustr": expected one of cluster, single, memory/],
    [{ REDIS_MODE: "cluster" }, "REDIS_NODES", /REDIS_NODES=\(unset\): expected comma-separated host:port/],
    [{ REDIS_NODES: "localhost" }, "REDIS_NODES", /REDIS_NODES="localhost": expected comma-separated host:port/],
    [{ REDIS_NODES: "h:0" }, "REDIS_NODES", /expected comma-separated host:port/],
    [{ REDIS_MODE: "single", REDIS_NODES: "a:1,b:2" }, "REDIS_NODES", /exactly one host:port when REDIS_MODE=single/],
    [{ REDIS_NODES: "h:1", REDIS_TLS: "maybe" }, "REDIS_TLS", /REDIS_TLS="maybe": expected true or false/],
    [{ REDIS_NODES: "h:1", NAMESPACES: "/calls,/admin" }, "NAMESPACES", /expected a comma-separated subset of \/calls,\/dashboard/],
    [{ REDIS_NODES: "h:1", PING_INTERVAL_MS: "300000", PING_TIMEOUT_MS: "60000" }, "PING_INTERVAL_MS", /below 350000 \(the NLB.s TCP idle timeout\)/],
  ];
  for (const [env, variable, message] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => parseGatewayConfig({ ...AUTH, ...env }),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
      );
    });
  }

  it("never echoes REDIS_AUTH in an error", () => {
    assert.throws(
      () => parseGatewayConfig({ REDIS_AUTH: "topsecret", REDIS_NODES: "nope" }),
      (err: Error) => !err.message.includes("topsecret"),
    );
  });

  it("stops the process with exit code 2 and a one-line message", () => {
    const out = spawnSync(process.execPath, ["--import", "tsx", GATEWAY_ENTRY], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_MODE: "cluster", REDIS_NODES: "127.0.0.1:notaport" },
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(out.status, 2, out.stderr);
    const lines = out.stderr.trim().split("\n");
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0], /REDIS_NODES="127\.0\.0\.1:notaport": expected comma-separated host:port/);
  });
});
