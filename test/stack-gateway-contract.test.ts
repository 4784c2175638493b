/**
 * The stack and the gateway agree: the environment and secrets the task
 * definition gives the container are exactly what the gateway's own config
 * parser accepts (a name or value the gateway rejects would stop every task
 * with exit code 2 at deploy time, which no synth-only test would notice).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGatewayConfig } from "../gateway/src/config.js";
import { resourcesOf, synthesize } from "./stack/synthesize.js";

/** What ECS would put in the container's environment, secrets replaced by plausible values. */
function containerEnv(context: Record<string, unknown>): Array<{ fleet: string; env: Record<string, string> }> {
  const { json } = synthesize(context);
  return resourcesOf(json, "AWS::ECS::TaskDefinition").flatMap(([id, r]) =>
    (r.Properties.ContainerDefinitions as any[])
      .filter((c) => (c.Environment ?? []).some((e: any) => e.Name === "REDIS_MODE"))
      .map((c) => {
        const env: Record<string, string> = { AWS_REGION: "us-east-1" };
        for (const e of c.Environment ?? []) {
          // Tokens (Fn::GetAtt of the cache endpoint...) resolve at deploy time: stand in a hostname.
          env[e.Name] = typeof e.Value === "string" ? e.Value : "clustercfg.example.cache.amazonaws.com";
        }
        if (env.REDIS_NODES && !/:\d+$/.test(env.REDIS_NODES)) env.REDIS_NODES += ":6380";
        for (const s of c.Secrets ?? []) env[s.Name] = "s".repeat(64);
        return { fleet: id, env };
      }),
  );
}

describe("stack and gateway configuration agree", () => {
  for (const [label, context] of [
    ["default context", {}],
    ["redisMode=single", { redisMode: "single" }],
    ["two fleets", { fleets: '[{"name":"calls","namespaces":["/calls"],"port":443,"shards":3},{"name":"dashboard","namespaces":["/dashboard"],"port":8443,"shards":1}]' }],
  ] as const) {
    it(`the gateway accepts the container environment at ${label}`, () => {
      const containers = containerEnv(context);
      assert.ok(containers.length >= 1, "a gateway container");
      for (const { fleet, env } of containers) {
        const config = parseGatewayConfig(env);
        assert.equal(config.redis.tls, true, `${fleet}: TLS to ElastiCache`);
        assert.ok(config.redis.auth, `${fleet}: the auth token arrives (as a secret)`);
        assert.notEqual(config.auth.mode, "none", `${fleet}: authentication on`);
        assert.ok(config.cloudwatch, `${fleet}: CloudWatch metrics on`);
        assert.ok(config.publish.secret, `${fleet}: publish endpoint credential`);
      }
    });
  }
});
