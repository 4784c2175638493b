/** Parsing of the authentication and limit variables (gateway/src/config.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseGatewayConfig } from "../gateway/src/config.js";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";

describe("auth and limits configuration", () => {
  it("defaults to HS256 with the limits of docs/security.md", () => {
    const c = parseGatewayConfig({ REDIS_MODE: "memory", AUTH_SECRET: SECRET });
    assert.equal(c.auth.mode, "hs256");
    assert.equal(c.auth.tenantClaim, "tenant");
    assert.equal(c.auth.clockToleranceSeconds, 10);
    assert.equal(c.limits.maxConnectionsPerUser, 5);
    assert.equal(c.limits.connectionLeaseSeconds, 30);
    assert.equal(c.limits.onRedisError, "open");
    assert.deepEqual(c.limits.allowedOrigins, []);
    assert.equal(c.maxFrameBytes, 32_768);
  });

  it("parses JWKS mode and every limit", () => {
    const c = parseGatewayConfig({
      REDIS_MODE: "memory",
      AUTH_MODE: "jwks",
      AUTH_JWKS_URL: "https://idp.example.com/.well-known/jwks.json",
      AUTH_ISSUER: "https://idp.example.com/",
      AUTH_AUDIENCE: "switchboard",
      AUTH_TENANT_CLAIM: "custom:tenant",
      AUTH_JWKS_COOLDOWN_SECONDS: "5",
      MAX_CONNECTIONS_PER_USER: "2",
      CONNECTION_LEASE_SECONDS: "12",
      CONNECTION_LIMIT_ON_REDIS_ERROR: "closed",
      CONNECT_RATE_PER_IP: "3",
      CONNECT_BURST_PER_IP: "4",
      EVENT_RATE_PER_SECOND: "5",
      EVENT_BURST: "6",
      EVENT_RATE_DISCONNECT_AFTER: "7",
      ALLOWED_ORIGINS: "https://App.example.com, http://localhost:5173",
      MAX_EVENT_DATA_DEPTH: "4",
    });
    assert.equal(c.auth.mode, "jwks");
    assert.equal(c.auth.tenantClaim, "custom:tenant");
    assert.equal(c.auth.jwksCooldownSeconds, 5);
    assert.deepEqual(
      { ...c.limits },
      {
        maxConnectionsPerUser: 2,
        connectionLeaseSeconds: 12,
        onRedisError: "closed",
        connectRatePerIp: 3,
        connectBurstPerIp: 4,
        eventRatePerSecond: 5,
        eventBurst: 6,
        eventRateDisconnectAfter: 7,
        allowedOrigins: ["https://app.example.com", "http://localhost:5173"],
        maxEventDataDepth: 4,
      },
    );
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{}, "AUTH_SECRET", /AUTH_SECRET=\(unset\).*set AUTH_SECRET, or AUTH_MODE=none/],
    [{ AUTH_SECRET: "short" }, "AUTH_SECRET", /at least 32 bytes/],
    [{ AUTH_MODE: "rs256" }, "AUTH_MODE", /one of hs256, jwks, none/],
    [{ AUTH_MODE: "jwks" }, "AUTH_JWKS_URL", /URL of the identity provider's JWKS/],
    [{ AUTH_MODE: "jwks", AUTH_JWKS_URL: "https://idp/jwks", AUTH_AUDIENCE: "x" }, "AUTH_ISSUER", /issuer/],
    [{ AUTH_MODE: "jwks", AUTH_JWKS_URL: "https://idp/jwks", AUTH_ISSUER: "x" }, "AUTH_AUDIENCE", /audience/],
    [{ AUTH_MODE: "none", MAX_CONNECTIONS_PER_USER: "-1" }, "MAX_CONNECTIONS_PER_USER", /integer from 0/],
    [{ AUTH_MODE: "none", CONNECTION_LEASE_SECONDS: "1" }, "CONNECTION_LEASE_SECONDS", /integer from 3/],
    [{ AUTH_MODE: "none", CONNECTION_LIMIT_ON_REDIS_ERROR: "maybe" }, "CONNECTION_LIMIT_ON_REDIS_ERROR", /one of open, closed/],
    [{ AUTH_MODE: "none", ALLOWED_ORIGINS: "app.example.com" }, "ALLOWED_ORIGINS", /origins like https:\/\/app.example.com/],
    [{ AUTH_MODE: "none", ALLOWED_ORIGINS: "https://a.com/path" }, "ALLOWED_ORIGINS", /no path/],
  ];
  for (const [env, variable, message] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => parseGatewayConfig({ REDIS_MODE: "memory", ...env }),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
      );
    });
  }

  it("never echoes AUTH_SECRET in an error", () => {
    assert.throws(() => parseGatewayConfig({ REDIS_MODE: "memory", AUTH_SECRET: "tooshort-secret" }), (err: Error) => !err.message.includes("tooshort-secret"));
  });
});
