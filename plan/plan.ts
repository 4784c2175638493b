/**
 * From a target (connections, message rate, room size) and measured costs to
 * the stack's context parameters, with every step of the arithmetic kept as
 * a line of text so a reader can check it. Pure: no I/O.
 */
import { ConfigError, parseConfig } from "../lib/config.js";
import type { Measurements } from "./measurements.js";

export interface Target {
  connections: number;
  /** Messages per second sent into rooms, over the whole fleet. */
  messageRate: number;
  roomSize: number;
}

export interface Policy {
  /** Share of task memory the connections may fill (GC headroom; the memory alarm fires at 80%). */
  memoryShare: number;
  /** Share of one vCPU the event loop may use (latency climbs before 100%; the CPU alarm is at 80%). */
  cpuShare: number;
  /** Largest number of connections per task we recommend, whatever the sums allow. */
  maxConnectionsCap: number;
  /** Autoscaling target as a share of maxConnectionsPerTask. */
  targetShare: number;
  /** Share of one Redis core a shard may use. */
  shardCpuShare: number;
  minShards: number;
  /** Engine.IO ping interval, seconds: each connection costs one ping/pong per interval. */
  pingIntervalSeconds: number;
}

export const DEFAULT_POLICY: Policy = {
  memoryShare: 0.7,
  cpuShare: 0.6,
  // A task that dies sends its connections to the others at once: 40,000
  // reconnects is about 40 s of handshakes for a fleet of 1-vCPU tasks at the
  // ~1,000/s one core sustains (measured connect rate, docs/performance.md).
  maxConnectionsCap: 40_000,
  targetShare: 0.7,
  shardCpuShare: 0.5,
  minShards: 3,
  pingIntervalSeconds: 25,
};

export interface Plan {
  context: {
    taskCpu: number;
    taskMemoryMiB: number;
    maxConnectionsPerTask: number;
    targetConnectionsPerTask: number;
    desiredCount: number;
    maxTasks: number;
    shards: number;
    cacheNodeType: string;
  };
  arithmetic: string[];
}

const MiB = 2 ** 20;
const fmt = (n: number, d = 0) => n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: 0 });
// Fargate: 1 vCPU takes 2-8 GiB in 1 GiB steps.
const FARGATE_1VCPU_MEMORY = [2048, 3072, 4096, 5120, 6144, 7168, 8192];

export function planDeployment(t: Target, m: Measurements, p: Policy = DEFAULT_POLICY): Plan {
  const out: string[] = [];
  const deliveriesPerSec = t.messageRate * (t.roomSize - 1);
  out.push(`target: ${fmt(t.connections)} connections, ${fmt(t.messageRate)} messages/s into rooms of ${t.roomSize} -> ${fmt(t.messageRate)} x (${t.roomSize} - 1) = ${fmt(deliveriesPerSec)} deliveries/s`);
  out.push(`measured (${m.source}): RSS ${fmt(m.rssPerConnection / 1024, 2)} KB/connection (heap ${fmt(m.heapPerConnection / 1024, 2)} KB), base RSS ${fmt(m.baseRss / MiB)} MiB, ${fmt(m.cpuMicrosPerDelivery)} µs gateway CPU/delivery, ${fmt(m.brokerMicrosPerPublish)} µs broker CPU/SPUBLISH, ${m.publishesPerMessage} SPUBLISH/message`);

  // 1. CPU per connection: its share of the deliveries plus its heartbeats.
  out.push("");
  out.push("1. gateway task = 1 vCPU (taskCpu 1024): Node.js runs one event loop, so scale out, not up");
  const perConnLoad = deliveriesPerSec / t.connections + 1 / p.pingIntervalSeconds;
  const cpuPerConn = perConnLoad * m.cpuMicrosPerDelivery;
  const byCpu = Math.floor((p.cpuShare * 1e6) / cpuPerConn);
  out.push(`   CPU per connection = (${fmt(deliveriesPerSec)} / ${fmt(t.connections)} deliveries/s + 1/${p.pingIntervalSeconds} pings/s) x ${fmt(m.cpuMicrosPerDelivery)} µs = ${fmt(cpuPerConn, 2)} µs/s`);
  out.push(`   connections by CPU = ${p.cpuShare} x 1,000,000 µs/s / ${fmt(cpuPerConn, 2)} = ${fmt(byCpu)}`);

  // 2. Memory: connections x RSS each + the process's base, within memoryShare of the task.
  let max = Math.min(byCpu, p.maxConnectionsCap);
  out.push(`   maxConnectionsPerTask = min(${fmt(byCpu)} by CPU, ${fmt(p.maxConnectionsCap)} cap for reconnect storms) = ${fmt(max)}`);
  const needMiB = (n: number) => (m.baseRss + n * m.rssPerConnection) / MiB / p.memoryShare;
  let taskMemoryMiB = FARGATE_1VCPU_MEMORY.find((mem) => mem >= needMiB(max));
  if (taskMemoryMiB === undefined) {
    taskMemoryMiB = FARGATE_1VCPU_MEMORY.at(-1)!;
    const byMemory = Math.floor(((taskMemoryMiB * MiB * p.memoryShare) - m.baseRss) / m.rssPerConnection);
    out.push(`   memory caps it: (${taskMemoryMiB} MiB x ${p.memoryShare} - base) / ${fmt(m.rssPerConnection / 1024, 2)} KB = ${fmt(byMemory)}`);
    max = byMemory;
  }
  out.push(`2. taskMemoryMiB: (${fmt(m.baseRss / MiB)} MiB + ${fmt(max)} x ${fmt(m.rssPerConnection / 1024, 2)} KB) / ${p.memoryShare} = ${fmt(needMiB(max))} MiB -> ${taskMemoryMiB} (smallest Fargate size for 1 vCPU that fits)`);

  // 3. Fleet size: autoscale to targetShare of max; N-1 tasks must still hold everyone.
  const target = Math.floor(max * p.targetShare);
  const desired = Math.max(2, Math.ceil(t.connections / target));
  const maxTasks = Math.max(desired + 2, Math.ceil(desired * 1.5));
  out.push(`3. targetConnectionsPerTask = ${p.targetShare} x ${fmt(max)} = ${fmt(target)}; desiredCount = ceil(${fmt(t.connections)} / ${fmt(target)}) = ${desired} (at least 2, one per AZ)`);
  out.push(`   losing one task: ${fmt(t.connections)} / ${desired - 1} = ${fmt(t.connections / Math.max(1, desired - 1))} per task ${t.connections / Math.max(1, desired - 1) <= max ? "<=" : "> (!)"} ${fmt(max)}; maxTasks = max(desired + 2, 1.5 x desired) = ${maxTasks}`);

  // 4. Broker: each message is SPUBLISHed (publishesPerMessage times) to its room's shard and
  // delivered once to every task holding a member of the room.
  const tasks = desired;
  const subscribers = tasks * (1 - (1 - 1 / tasks) ** t.roomSize);
  const usPerPublish = m.brokerMicrosPerPublish * (subscribers / m.subscribersPerPublish);
  const messageUs = t.messageRate * m.publishesPerMessage * usPerPublish;
  const connectionUs = t.connections * m.brokerMicrosPerConnectionSecond;
  const brokerUs = messageUs + connectionUs;
  const byCpuShards = Math.ceil(brokerUs / (p.shardCpuShare * 1e6));
  const shards = Math.max(p.minShards, byCpuShards);
  out.push(`4. tasks holding a member of a room of ${t.roomSize} over ${tasks} tasks = ${tasks} x (1 - (1 - 1/${tasks})^${t.roomSize}) = ${fmt(subscribers, 2)} subscribers per publish`);
  out.push(`   broker CPU for messages = ${fmt(t.messageRate)} msg/s x ${m.publishesPerMessage} SPUBLISH x ${fmt(m.brokerMicrosPerPublish)} µs x ${fmt(subscribers, 2)}/${m.subscribersPerPublish} subscribers = ${fmt(messageUs / 1e6, 3)} cores`);
  out.push(`   broker CPU for held connections = ${fmt(t.connections)} x ${fmt(m.brokerMicrosPerConnectionSecond, 3)} µs/s (${fmt(m.brokerCommandsPerConnectionSecond, 3)} commands/s each: per-user leases, probes) = ${fmt(connectionUs / 1e6, 3)} cores`);
  out.push(`   shards = max(${p.minShards} minimum, ceil(${fmt(brokerUs / 1e6, 3)} / ${p.shardCpuShare})) = ${shards}; messages of a room go to its shard only (sharded pub/sub), so shards scale with messages and per-connection bookkeeping, not with fan-out to every node`);
  const perShardOut = (t.messageRate * m.publishesPerMessage * subscribers) / shards;
  const channels = Math.ceil(t.connections / t.roomSize);
  out.push(`   per shard: ${fmt(perShardOut)} messages out/s; ${fmt(channels)} room channels x ${fmt(subscribers, 2)} subscriptions = ${fmt(channels * subscribers)} subscriptions over ${shards} shards`);

  // 5. Node type: memory is small (subscriptions, buffers); network and I/O threads grow with size.
  const cacheNodeType = perShardOut > 150_000 ? "cache.r7g.xlarge" : "cache.r7g.large";
  out.push(`5. cacheNodeType: ${cacheNodeType} (${perShardOut > 150_000 ? "above" : "below"} 150,000 messages out/s per shard; the larger type adds I/O threads and network)`);

  return {
    context: { taskCpu: 1024, taskMemoryMiB, maxConnectionsPerTask: max, targetConnectionsPerTask: target, desiredCount: desired, maxTasks, shards, cacheNodeType },
    arithmetic: out,
  };
}

/**
 * Why the stack would refuse this plan's context (its own parser, so the
 * limits cannot drift apart), or undefined when `cdk deploy` would take it.
 */
export function stackRefusal(plan: Plan): string | undefined {
  try {
    parseConfig(Object.fromEntries(Object.entries(plan.context).map(([k, v]) => [k, String(v)])));
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}
