/**
 * Per-shard broker counters, read before and after a piece of fan-out work:
 * commands processed, CPU seconds, and the publish messages the cluster bus
 * carried between nodes (a classic PUBLISH is copied to every node; a
 * sharded SPUBLISH stays on its shard).
 */
import type { RedisCluster } from "../topology/index.js";

export interface ShardCounters {
  port: number;
  commands: number;
  cpuSeconds: number;
  publishCalls: number;
  spublishCalls: number;
  busPublishReceived: number;
  netOutputBytes: number;
}

const field = (text: string, name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
const calls = (text: string, cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, "m").exec(text)?.[1] ?? 0);

export function readShards(redis: RedisCluster, ports: number[]): ShardCounters[] {
  return ports.map((port) => {
    const info = redis.cli(port, "INFO", "all");
    const cluster = redis.cli(port, "CLUSTER", "INFO");
    return {
      port,
      commands: field(info, "total_commands_processed"),
      cpuSeconds: field(info, "used_cpu_sys") + field(info, "used_cpu_user"),
      publishCalls: calls(info, "publish"),
      spublishCalls: calls(info, "spublish"),
      busPublishReceived: field(cluster, "cluster_stats_messages_publish_received") + field(cluster, "cluster_stats_messages_publishshard_received"),
      netOutputBytes: field(info, "total_net_output_bytes"),
    };
  });
}

export function diffShards(before: ShardCounters[], after: ShardCounters[]): ShardCounters[] {
  return after.map((a, i) => {
    const b = before[i];
    return {
      port: a.port,
      commands: a.commands - b.commands,
      cpuSeconds: Math.round((a.cpuSeconds - b.cpuSeconds) * 1000) / 1000,
      publishCalls: a.publishCalls - b.publishCalls,
      spublishCalls: a.spublishCalls - b.spublishCalls,
      busPublishReceived: a.busPublishReceived - b.busPublishReceived,
      netOutputBytes: a.netOutputBytes - b.netOutputBytes,
    };
  });
}

/** `work` less what the shards do when idle (cron, cluster gossip, health probes) over the same time. */
export function lessIdle(work: ShardCounters[], idle: ShardCounters[], idleSeconds: number, workSeconds: number): ShardCounters[] {
  const k = workSeconds / idleSeconds;
  return work.map((w, i) => ({
    ...w,
    commands: Math.max(0, Math.round(w.commands - idle[i].commands * k)),
    cpuSeconds: Math.max(0, Math.round((w.cpuSeconds - idle[i].cpuSeconds * k) * 1000) / 1000),
    netOutputBytes: Math.max(0, Math.round(w.netOutputBytes - idle[i].netOutputBytes * k)),
  }));
}
