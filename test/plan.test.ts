/** The capacity planner's arithmetic: its recommendation must satisfy its own constraints. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { DEFAULT_POLICY, planDeployment, stackRefusal } from "../plan/plan.js";
import type { Measurements } from "../plan/measurements.js";

const measured: Measurements = {
  source: "test",
  rssPerConnection: 8 * 1024,
  heapPerConnection: 5 * 1024,
  baseRss: 100 * 2 ** 20,
  cpuMicrosPerDelivery: 20,
  brokerMicrosPerPublish: 10,
  subscribersPerPublish: 4,
  publishesPerMessage: 2,
  brokerMicrosPerConnectionSecond: 0.5,
  brokerCommandsPerConnectionSecond: 0.1,
};

for (const connections of [1_000, 100_000, 500_000, 1_000_000]) {
  test(`plan for ${connections.toLocaleString("en")} connections fits its own limits`, () => {
    const { context: c, arithmetic } = planDeployment({ connections, messageRate: connections / 10, roomSize: 4 }, measured);
    assert.equal(c.taskCpu, 1024);
    assert.ok([2048, 3072, 4096, 5120, 6144, 7168, 8192].includes(c.taskMemoryMiB), `Fargate 1 vCPU memory, got ${c.taskMemoryMiB}`);
    // Memory: the connections at maxConnectionsPerTask fit within the memory share.
    assert.ok(measured.baseRss + c.maxConnectionsPerTask * measured.rssPerConnection <= c.taskMemoryMiB * 2 ** 20 * DEFAULT_POLICY.memoryShare);
    assert.ok(c.maxConnectionsPerTask <= DEFAULT_POLICY.maxConnectionsCap);
    // Fleet: the autoscaling target covers everyone, and so do N-1 tasks at their maximum.
    assert.ok(c.desiredCount * c.targetConnectionsPerTask >= connections);
    assert.ok((c.desiredCount - 1) * c.maxConnectionsPerTask >= connections || c.desiredCount === 2);
    assert.ok(c.maxTasks > c.desiredCount);
    assert.ok(c.shards >= DEFAULT_POLICY.minShards);
    assert.match(c.cacheNodeType, /^cache\.r7g\./);
    assert.ok(arithmetic.length > 5);
  });
}

test("more messages need more shards; so does per-connection broker work", () => {
  const quiet = planDeployment({ connections: 1_000_000, messageRate: 1_000, roomSize: 4 }, measured).context.shards;
  const busy = planDeployment({ connections: 1_000_000, messageRate: 1_000_000, roomSize: 4 }, measured).context.shards;
  assert.equal(quiet, DEFAULT_POLICY.minShards);
  assert.ok(busy > quiet);
  const leases = planDeployment({ connections: 1_000_000, messageRate: 1_000, roomSize: 4 }, { ...measured, brokerMicrosPerConnectionSecond: 10 }).context.shards;
  assert.equal(leases, Math.ceil((1_000_000 * 10 + 1_000 * 2 * 10 * (planSubscribers(1_000_000, measured) / 4)) / 500_000));
});

/** Expected distinct tasks holding a room of 4, as the plan computes it. */
function planSubscribers(connections: number, m: Measurements): number {
  const tasks = planDeployment({ connections, messageRate: 1_000, roomSize: 4 }, m).context.desiredCount;
  return tasks * (1 - (1 - 1 / tasks) ** 4);
}

test("memory caps connections per task when each connection is heavy", () => {
  const heavy = { ...measured, rssPerConnection: 400 * 1024 };
  const { context: c } = planDeployment({ connections: 100_000, messageRate: 100, roomSize: 4 }, heavy);
  assert.equal(c.taskMemoryMiB, 8192);
  assert.ok(c.maxConnectionsPerTask < DEFAULT_POLICY.maxConnectionsCap);
  assert.ok(heavy.baseRss + c.maxConnectionsPerTask * heavy.rssPerConnection <= 8192 * 2 ** 20 * DEFAULT_POLICY.memoryShare);
});

test("a plan the stack would refuse is named as such, with the stack's own reason", () => {
  assert.equal(stackRefusal(planDeployment({ connections: 1_000_000, messageRate: 100_000, roomSize: 4 }, measured)), undefined);
  const huge = stackRefusal(planDeployment({ connections: 1e12, messageRate: 1e9, roomSize: 4 }, measured));
  assert.match(huge ?? "", /Invalid context parameter "(desiredCount|maxTasks|shards)".*an integer from 1 to (1000|500)/);
});

/** `npm run plan` as a user runs it. */
function plan(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "plan/cli.ts", ...args], { encoding: "utf8", timeout: 60_000 });
}

test("npm run plan: unknown flags, fractions and plans past the stack's limits exit 2 with one clear line", () => {
  const unknown = plan("--connections", "100000", "--message-rate", "10000", "--rooms-size", "4");
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr, "npm run plan: Unknown option '--rooms-size'. Options: --connections N --message-rate N [--room-size N] [--results FILE] [--rss-kb N] [--cpu-us-per-delivery N] [--broker-us-per-publish N] | --examples\n");
  const fraction = plan("--connections", "1.5", "--message-rate", "1");
  assert.equal(fraction.status, 2);
  assert.equal(fraction.stderr, 'npm run plan: --connections "1.5": expected a whole number >= 1\n');
  const room = plan("--connections", "1000", "--message-rate", "1", "--room-size", "2.5");
  assert.equal(room.stderr, 'npm run plan: --room-size "2.5": expected a whole number >= 2\n');
  const huge = plan("--connections", "1000000000000", "--message-rate", "1000000000", "--results", "bench/results/2026-12-04T04-45.json");
  assert.equal(huge.status, 2);
  assert.match(huge.stderr, /^npm run plan: one stack cannot hold this plan: Invalid context parameter "(desiredCount|maxTasks|shards)"/);
});
