/** The metrics and CloudWatch settings in gateway/src/config.ts: defaults and errors naming the variable. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseGatewayConfig } from "../gateway/src/config.js";

const base = { REDIS_NODES: "10.0.0.1:6379", AUTH_MODE: "none" };
const on = { ...base, CLOUDWATCH_NAMESPACE: "Switchboard", SERVICE_NAME: "switchboard-gateway", AWS_REGION: "eu-west-1" };

describe("observability configuration", () => {
  it("polls shard channels every 10 s and leaves CloudWatch off by default", () => {
    const c = parseGatewayConfig(base);
    assert.equal(c.shardChannelsPollSeconds, 10);
    assert.equal(c.cloudwatch, undefined);
  });

  it("turns CloudWatch on with a namespace, a service name and a region", () => {
    assert.deepEqual(parseGatewayConfig(on).cloudwatch, {
      namespace: "Switchboard",
      serviceName: "switchboard-gateway",
      intervalSeconds: 60,
      region: "eu-west-1",
      endpoint: undefined,
    });
    const c = parseGatewayConfig({ ...on, CLOUDWATCH_INTERVAL_SECONDS: "30", CLOUDWATCH_ENDPOINT: "http://127.0.0.1:4566" });
    assert.equal(c.cloudwatch?.intervalSeconds, 30);
    assert.equal(c.cloudwatch?.endpoint, "http://127.0.0.1:4566");
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ ...base, SHARD_CHANNELS_POLL_SECONDS: "0" }, "SHARD_CHANNELS_POLL_SECONDS", /expected an integer from 1 to 3600/],
    [{ ...on, SERVICE_NAME: "" }, "SERVICE_NAME", /expected the ServiceName dimension value .* when CLOUDWATCH_NAMESPACE is set/],
    [{ ...on, AWS_REGION: "" }, "AWS_REGION", /expected an AWS region .* when CLOUDWATCH_NAMESPACE is set/],
    [{ ...on, CLOUDWATCH_NAMESPACE: "AWS/ECS" }, "CLOUDWATCH_NAMESPACE", /not starting with AWS\//],
    [{ ...on, CLOUDWATCH_NAMESPACE: "has spaces" }, "CLOUDWATCH_NAMESPACE", /expected 1-255 of/],
    [{ ...on, CLOUDWATCH_INTERVAL_SECONDS: "0" }, "CLOUDWATCH_INTERVAL_SECONDS", /expected an integer from 1 to 3600/],
    [{ ...on, CLOUDWATCH_ENDPOINT: "localhost:4566" }, "CLOUDWATCH_ENDPOINT", /expected an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [env, variable, message] of bad) {
    it(`rejects ${variable}=${JSON.stringify(env[variable])}`, () => {
      assert.throws(
        () => parseGatewayConfig(env),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
      );
    });
  }
});
