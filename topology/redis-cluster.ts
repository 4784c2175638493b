/**
 * A real Redis Cluster on loopback, from the `redis-server` on PATH: what
 * `npm run local`, the tests, the benchmarks and the fault suite all run on.
 * Each node is a child process, so it can be killed, stopped and restarted.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RedisClusterOptions {
  /** Ports of the nodes: primaries first, then replicas. Length = primaries * (1 + replicasPerPrimary). */
  ports: number[];
  primaries?: number;
  replicasPerPrimary?: number;
  /** Folder for node configs and logs. */
  dir: string;
  /** `cluster-node-timeout`: how long a primary must be unreachable before failover. */
  nodeTimeoutMs?: number;
  /** Extra `redis-server` arguments for every node, e.g. ["--client-output-buffer-limit", "pubsub 64kb 32kb 1"]. */
  extraArgs?: string[];
}

export interface RedisNodeProcess {
  port: number;
  process: ChildProcess | undefined;
}

export interface RedisCluster {
  readonly nodes: RedisNodeProcess[];
  /** Comma-separated host:port seeds, the gateway's REDIS_NODES. */
  readonly seeds: string;
  /** Runs redis-cli against one node and returns its output. */
  cli(port: number, ...args: string[]): string;
  /** Sends a signal to one node (SIGKILL to crash it, SIGSTOP/SIGCONT to stall it). */
  signal(port: number, signal: NodeJS.Signals): void;
  /** Starts a node again after it was killed, with its old config file. */
  restart(port: number): Promise<void>;
  /** Waits until every reachable node reports cluster_state:ok and all slots assigned. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT =
  "install Redis 7 or newer: Debian/Ubuntu `sudo apt-get install redis-server`, macOS `brew install redis`";

/** The major version of the redis-server on PATH, or an error that says how to install it. */
export function checkRedisServer(): { version: string } {
  const out = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (out.error || out.status !== 0) {
    throw new Error(`redis-server not found on PATH: ${REDIS_INSTALL_HINT}`);
  }
  const version = /v=(\d+\.\d+\.\d+)/.exec(out.stdout)?.[1];
  if (!version || Number(version.split(".")[0]) < 7) {
    throw new Error(`redis-server ${version ?? "(unknown version)"} is too old: sharded pub/sub needs 7.0; ${REDIS_INSTALL_HINT}`);
  }
  return { version };
}

export async function startRedisCluster(o: RedisClusterOptions): Promise<RedisCluster> {
  const primaries = o.primaries ?? 3;
  const replicas = o.replicasPerPrimary ?? 0;
  if (o.ports.length !== primaries * (1 + replicas)) {
    throw new Error(`need ${primaries * (1 + replicas)} ports for ${primaries} primaries with ${replicas} replicas each, got ${o.ports.length}`);
  }
  checkRedisServer();
  const nodes: RedisNodeProcess[] = o.ports.map((port) => ({ port, process: undefined }));

  const launch = (node: RedisNodeProcess) => {
    const dir = join(o.dir, String(node.port));
    mkdirSync(dir, { recursive: true });
    const args = [
      "--port", String(node.port),
      "--bind", "127.0.0.1",
      "--cluster-enabled", "yes",
      "--cluster-config-file", "nodes.conf",
      "--cluster-node-timeout", String(o.nodeTimeoutMs ?? 5000),
      "--dir", dir,
      "--save", "",
      "--appendonly", "no",
      "--daemonize", "no",
      "--logfile", join(dir, "redis.log"),
      ...(o.extraArgs ?? []),
    ];
    node.process = spawn("redis-server", args, { stdio: "ignore" });
    node.process.on("exit", () => {
      node.process = undefined;
    });
  };

  const cli = (port: number, ...args: string[]): string => {
    const out = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 15_000 });
    if (out.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(" ")}: ${out.stderr || out.stdout}`);
    return out.stdout;
  };

  const waitPing = async (port: number) => {
    for (let i = 0; i < 100; i++) {
      try {
        if (cli(port, "PING").trim() === "PONG") return;
      } catch {
        /* not up yet */
      }
      await sleep(50);
    }
    throw new Error(`redis-server on ${port} did not answer PING`);
  };

  const cluster: RedisCluster = {
    nodes,
    seeds: o.ports.slice(0, primaries).map((p) => `127.0.0.1:${p}`).join(","),
    cli,
    signal(port, signal) {
      const node = nodes.find((n) => n.port === port);
      node?.process?.kill(signal);
    },
    async restart(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on ${port}`);
      if (node.process) return;
      launch(node);
      await waitPing(port);
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const live = nodes.filter((n) => n.process);
        const states = live.map((n) => {
          try {
            return cli(n.port, "CLUSTER", "INFO");
          } catch {
            return "";
          }
        });
        if (states.every((s) => s.includes("cluster_state:ok") && s.includes("cluster_slots_ok:16384"))) return;
        if (Date.now() > deadline) throw new Error(`redis cluster not healthy after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all(
        nodes.map(async (n) => {
          const p = n.process;
          if (!p) return;
          const exited = new Promise((r) => p.once("exit", r));
          p.kill("SIGCONT");
          p.kill("SIGKILL");
          await exited;
        }),
      );
    },
  };

  try {
    nodes.forEach(launch);
    await Promise.all(o.ports.map(waitPing));
    const create = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...o.ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicas), "--cluster-yes"],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await cluster.waitHealthy();
    if (replicas > 0) await waitReplicasInSync(cluster, o.ports.slice(primaries));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

async function waitReplicasInSync(cluster: RedisCluster, replicaPorts: number[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const port of replicaPorts) {
    while (!cluster.cli(port, "INFO", "replication").includes("master_link_status:up")) {
      if (Date.now() > deadline) throw new Error(`replica ${port} did not sync with its primary`);
      await sleep(100);
    }
  }
}
