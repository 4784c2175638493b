/** PUBLISH_* configuration and the publish rate limiter's arithmetic (on an injected clock). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseGatewayConfig } from "../gateway/src/config.js";
import { createRateLimiter } from "../gateway/src/publish-rate.js";
import { parseRoom, ROOM_PATTERN } from "../gateway/src/protocol.js";

const SECRET = "0123456789abcdef0123456789abcdef";

describe("publish configuration", () => {
  it("is disabled with defaults when PUBLISH_SECRET is unset or empty", () => {
    for (const env of [{ AUTH_MODE: "none", REDIS_NODES: "h:1" }, { AUTH_MODE: "none", REDIS_NODES: "h:1", PUBLISH_SECRET: "" }]) {
      assert.deepEqual(parseGatewayConfig(env).publish, { secret: undefined, maxBytes: 65_536, ratePerSecond: 200, burst: 400 });
    }
  });

  it("parses every setting; the burst defaults to twice the rate", () => {
    const c = parseGatewayConfig({ AUTH_MODE: "none", REDIS_NODES: "h:1", PUBLISH_SECRET: SECRET, PUBLISH_MAX_BYTES: "4096", PUBLISH_RATE_PER_SECOND: "50" });
    assert.deepEqual(c.publish, { secret: SECRET, maxBytes: 4096, ratePerSecond: 50, burst: 100 });
    assert.equal(parseGatewayConfig({ AUTH_MODE: "none", REDIS_NODES: "h:1", PUBLISH_RATE_BURST: "7" }).publish.burst, 7);
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ PUBLISH_SECRET: "short" }, "PUBLISH_SECRET", /at least 32 characters/],
    [{ PUBLISH_SECRET: `${SECRET} with spaces` }, "PUBLISH_SECRET", /without spaces/],
    [{ PUBLISH_MAX_BYTES: "10" }, "PUBLISH_MAX_BYTES", /PUBLISH_MAX_BYTES="10": expected an integer from 256/],
    [{ PUBLISH_RATE_PER_SECOND: "0" }, "PUBLISH_RATE_PER_SECOND", /expected an integer from 1/],
    [{ PUBLISH_RATE_BURST: "lots" }, "PUBLISH_RATE_BURST", /expected an integer/],
  ];
  for (const [env, variable, message] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => parseGatewayConfig({ AUTH_MODE: "none", REDIS_NODES: "h:1", ...env }),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
      );
    });
  }

  it("never echoes PUBLISH_SECRET in an error", () => {
    assert.throws(
      () => parseGatewayConfig({ AUTH_MODE: "none", REDIS_NODES: "h:1", PUBLISH_SECRET: "guessable-secret" }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes("guessable"),
    );
  });
});

describe("publish rate limiter", () => {
  it("allows the burst, then one token per 1/rate seconds, per key", () => {
    let t = 0;
    const limiter = createRateLimiter({ ratePerSecond: 2, burst: 3, now: () => t });
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.take("a").ok), [true, true, true, false]);
    assert.equal(limiter.take("b").ok, true, "another key has its own bucket");
    const refused = limiter.take("a");
    assert.ok(!refused.ok && refused.retryAfterSeconds === 1);
    t += 499;
    assert.equal(limiter.take("a").ok, false);
    t += 2;
    assert.equal(limiter.take("a").ok, true, "a token after half a second at 2/s");
    t += 60_000;
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.take("a").ok), [true, true, true, false], "refills to the burst, no more");
  });
});

describe("room names", () => {
  it("accepts call:<id> and call:<tenant>:<id>, nothing else", () => {
    assert.deepEqual(parseRoom("call:abc"), { callId: "abc" });
    assert.deepEqual(parseRoom("call:acme_1:abc-2"), { tenant: "acme_1", callId: "abc-2" });
    for (const bad of ["call:", "call:a:b:c", "call:{x}", "call:a b", "lobby", `call:${"x".repeat(65)}`, "call::x", "CALL:x"]) {
      assert.equal(ROOM_PATTERN.test(bad), false, bad);
    }
  });
});
