import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CONTEXT_SCHEMA, ConfigError, FARGATE_MEMORY_BY_CPU, parseConfig } from "../lib/config.js";

/** Asserts parseConfig rejects `context` with a message containing every fragment. */
function rejects(context: Record<string, unknown>, ...fragments: (string | RegExp)[]): void {
  assert.throws(
    () => parseConfig(context),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      for (const f of fragments) {
        if (typeof f === "string") assert.ok(err.message.includes(f), `message lacks ${JSON.stringify(f)}: ${err.message}`);
        else assert.match(err.message, f);
      }
      return true;
    },
  );
}

describe("config: defaults", () => {
  const c = parseConfig({});
  it("one fleet serving /calls and /dashboard on port 80, 3 shards x 1 replica, 2 tasks", () => {
    assert.deepEqual(c.fleetList, [
      { name: "gateway", namespaces: ["/calls", "/dashboard"], port: 80, shards: 3, replicasPerShard: 1, desiredCount: 2, minTasks: 2, maxTasks: 10 },
    ]);
  });
  it("valkey 8.0 on cache.r7g.large, cluster mode, x86_64, 1 vCPU / 2 GiB, env-agnostic", () => {
    assert.equal(c.cacheEngine, "valkey");
    assert.equal(c.cacheEngineVersionResolved, "8.0");
    assert.equal(c.cacheNodeType, "cache.r7g.large");
    assert.equal(c.redisMode, "cluster");
    assert.equal(c.cpuArchitecture, "x86_64");
    assert.equal(c.taskCpu, 1024);
    assert.equal(c.taskMemoryMiB, 2048);
    assert.equal(c.env, undefined);
  });
  it("stop sequence holds at defaults: deregistration < drain < 120 s stopTimeout, ping < 350 s", () => {
    assert.ok(c.deregistrationDelaySeconds < c.drainSeconds && c.drainSeconds < 120);
    assert.ok(c.pingIntervalMs < 350_000);
  });
  it("every parameter documents its default and accepted values", () => {
    for (const [name, p] of Object.entries(CONTEXT_SCHEMA)) {
      assert.ok(p.doc.length > 10 && p.accepted.length > 3 && p.defaultText.length > 0, name);
    }
  });
});

describe("config: coercion", () => {
  it("-c values arrive as strings and are coerced", () => {
    const c = parseConfig({ shards: "8", replicasPerShard: "2", desiredCount: "6", maxTasks: "12", namespaces: "/a,/b" });
    assert.equal(c.fleetList[0]!.shards, 8);
    assert.equal(c.fleetList[0]!.replicasPerShard, 2);
    assert.equal(c.fleetList[0]!.desiredCount, 6);
    assert.deepEqual(c.fleetList[0]!.namespaces, ["/a", "/b"]);
  });
  it("cdk.json values arrive as JSON and are accepted", () => {
    const c = parseConfig({ shards: 4, namespaces: ["/x"], fleets: [{ name: "solo", namespaces: ["/x"] }] });
    assert.equal(c.fleetList[0]!.shards, 4);
    assert.equal(c.fleetList[0]!.name, "solo");
  });
  it("fleets as a -c JSON string; per-fleet fields override, others fall back", () => {
    const c = parseConfig({
      shards: "5",
      fleets: '[{"name":"calls","namespaces":["/calls"],"port":443,"shards":3},{"name":"dashboard","namespaces":["/dashboard"],"port":8443}]',
    });
    assert.deepEqual(
      c.fleetList.map((f) => [f.name, f.port, f.shards]),
      [["calls", 443, 3], ["dashboard", 8443, 5]],
    );
  });
  it("certificateArn moves the default port to 443", () => {
    assert.equal(parseConfig({ certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/abc-1" }).fleetList[0]!.port, 443);
  });
  it("redisMode=single forces one shard (shards from cdk.json is ignored)", () => {
    assert.equal(parseConfig({ redisMode: "single", shards: 3 }).fleetList[0]!.shards, 1);
  });
  it("vpcId takes account/region from CDK_DEFAULT_* when not in context", () => {
    const c = parseConfig({ vpcId: "vpc-0123456789abcdef0" }, { CDK_DEFAULT_ACCOUNT: "123456789012", CDK_DEFAULT_REGION: "eu-west-1" });
    assert.deepEqual(c.env, { account: "123456789012", region: "eu-west-1" });
  });
  it("CDK's own context keys (feature flags, lookups) are not reported as unknown", () => {
    assert.doesNotThrow(() => parseConfig({ "@aws-cdk/core:newStyleStackSynthesis": true, "aws:cdk:enable-path-metadata": true, "vpc-provider:x=y": {} }));
  });
  it("Fargate cpu/memory table: every listed pair is accepted", () => {
    for (const [cpu, mems] of Object.entries(FARGATE_MEMORY_BY_CPU)) {
      for (const mem of mems) assert.doesNotThrow(() => parseConfig({ taskCpu: cpu, taskMemoryMiB: String(mem) }), `${cpu}/${mem}`);
    }
  });
});

describe("config: invalid context fails with the parameter, the value and what is accepted", () => {
  it("unknown name (typo) suggests the right one", () => rejects({ shard: "4" }, 'Unknown context parameter "shard"', '"4"', 'Did you mean "shards"?', "Accepted parameters:", "replicasPerShard"));
  it("non-integer shards", () => rejects({ shards: "three" }, '"shards"', '"three"', "an integer from 1 to 500"));
  it("shards out of range", () => rejects({ shards: "0" }, '"shards"', '"0"', "1 to 500"));
  it("fractional desiredCount", () => rejects({ desiredCount: 2.5 }, '"desiredCount"', "2.5", "an integer"));
  it("replicasPerShard 0 (no failover possible)", () => rejects({ replicasPerShard: "0" }, '"replicasPerShard"', "1 to 5"));
  it("desiredCount outside min..max", () => rejects({ desiredCount: "20" }, '"desiredCount"', "20", "minTasks (2) to maxTasks (10)"));
  it("minTasks above maxTasks", () => rejects({ minTasks: "5", maxTasks: "3", desiredCount: "4" }, '"minTasks"', "above maxTasks (3)"));
  it("taskCpu not a Fargate size", () => rejects({ taskCpu: "1000" }, '"taskCpu"', '"1000"', "256, 512, 1024"));
  it("taskMemoryMiB not valid for taskCpu", () => rejects({ taskCpu: "256", taskMemoryMiB: "4096" }, '"taskMemoryMiB"', "4096", "taskCpu=256", "512, 1024, 2048"));
  it("cpuArchitecture unknown", () => rejects({ cpuArchitecture: "amd64" }, '"cpuArchitecture"', '"amd64"', '"x86_64", "arm64"'));
  it("redisMode unknown", () => rejects({ redisMode: "sentinel" }, '"redisMode"', '"cluster", "single"'));
  it("cacheEngine unknown", () => rejects({ cacheEngine: "memcached" }, '"cacheEngine"', '"valkey", "redis"'));
  it("cacheEngineVersion of the other engine", () => rejects({ cacheEngine: "redis", cacheEngineVersion: "8.0" }, '"cacheEngineVersion"', "cacheEngine=redis", "6.2, 7.0, 7.1"));
  it("cacheNodeType malformed", () => rejects({ cacheNodeType: "r7g.large" }, '"cacheNodeType"', "cache.r7g.large"));
  it("deregistration not shorter than drain", () => rejects({ deregistrationDelaySeconds: "60", drainSeconds: "60" }, '"deregistrationDelaySeconds"', "below drainSeconds (60)"));
  it("drain not shorter than the 120 s stopTimeout", () => rejects({ drainSeconds: "120" }, '"drainSeconds"', "1 to 119"));
  it("ping interval at or above the NLB idle timeout", () => rejects({ pingIntervalMs: "350000" }, '"pingIntervalMs"', "350000", "1000 to 349999"));
  it("scaling target not below the per-task ceiling", () => rejects({ targetConnectionsPerTask: "30000" }, '"targetConnectionsPerTask"', "maxConnectionsPerTask (30000)"));
  it("certificateArn not an ACM ARN", () => rejects({ certificateArn: "arn:aws:iam::123456789012:server-certificate/x" }, '"certificateArn"', "ACM certificate ARN"));
  it("vpcId malformed", () => rejects({ vpcId: "my-vpc" }, '"vpcId"', '"my-vpc"', "vpc-0123456789abcdef0"));
  it("vpcId without account/region says how to give them", () => rejects({ vpcId: "vpc-0123456789abcdef0" }, '"vpcId"', "account", "-c account=", "CDK_DEFAULT_ACCOUNT"));
  it("account without region", () => rejects({ account: "123456789012" }, '"region"', "together"));
  it("maxAzs above 2 on an environment-agnostic stack", () => rejects({ maxAzs: "3" }, '"maxAzs"', "3", "account and region"));
  it("maxAzs 3 is fine with account and region", () => assert.equal(parseConfig({ maxAzs: "3", account: "123456789012", region: "us-east-1" }).maxAzs, 3));
  it("natGateways above maxAzs", () => rejects({ natGateways: "3" }, '"natGateways"', "1 to 2"));
  it("natGateways 0 (tasks need egress)", () => rejects({ natGateways: "0" }, '"natGateways"', "1 to 6"));
  it("authMode=jwks without authJwksUrl", () => rejects({ authMode: "jwks" }, '"authJwksUrl"', "https:// URL"));
  it("alarmEmail malformed", () => rejects({ alarmEmail: "ops" }, '"alarmEmail"', "an email address"));
  it("logRetentionDays not a CloudWatch value", () => rejects({ logRetentionDays: "10" }, '"logRetentionDays"', "7, 14, 30"));
  it("namespaces not starting with /", () => rejects({ namespaces: "calls" }, '"namespaces"', '"/..."'));
  it("fleets not JSON", () => rejects({ fleets: "calls" }, '"fleets"', "a JSON array of fleets"));
  it("fleets with an unknown key", () => rejects({ fleets: '[{"name":"a","namespaces":["/a"],"shard":2}]' }, '"fleets"', 'unknown key "shard"'));
  it("fleets sharing a namespace", () => rejects({ fleets: '[{"name":"a","namespaces":["/x"],"port":1},{"name":"b","namespaces":["/x"],"port":2}]' }, '"fleets"', 'namespace "/x" is served by two fleets'));
  it("fleets sharing a port", () => rejects({ fleets: '[{"name":"a","namespaces":["/a"],"port":443},{"name":"b","namespaces":["/b"],"port":443}]' }, '"fleets"', "port 443 is used by two fleets"));
  it("several fleets without ports", () => rejects({ fleets: '[{"name":"a","namespaces":["/a"]},{"name":"b","namespaces":["/b"]}]' }, '"fleets"', "every fleet needs a port"));
  it("fleet name not usable in resource names", () => rejects({ fleets: '[{"name":"Calls_1","namespaces":["/a"]}]' }, '"fleets"', 'name "Calls_1" is invalid'));
  it("fleet shards out of range", () => rejects({ fleets: '[{"name":"a","namespaces":["/a"],"shards":0}]' }, '"fleets"', "shards 0 is not an integer from 1 to 500"));
  it("fleet desiredCount outside its min..max", () => rejects({ fleets: '[{"name":"a","namespaces":["/a"],"desiredCount":50}]' }, '"fleets[a].desiredCount"', "50"));
});
