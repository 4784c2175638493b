/**
 * The whole topology on loopback (a Redis cluster, N gateway processes, a
 * balancer in front), started by one call. `npm run local`, the tests, the
 * benchmarks and the fault suite use this one fixture.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBalancer, type Balancer } from "./balancer.js";
import { startGatewayProcess, type GatewayProcess, type GatewayProcessOptions } from "./gateway-process.js";
import { freePorts } from "./ports.js";
import { startRedisCluster, type RedisCluster } from "./redis-cluster.js";

export { startBalancer, startGatewayProcess, startRedisCluster, freePorts };
export { DEV_AUTH_SECRET, DEV_AUDIENCE, DEV_ISSUER, DEV_TENANT, devAuthEnv, mintDevToken, type DevTokenOptions } from "./dev-auth.js";
export type { Balancer, GatewayProcess, RedisCluster };

export interface TopologyOptions {
  primaries?: number;
  replicasPerPrimary?: number;
  /** Redis node ports; free ones are chosen when omitted. */
  redisPorts?: number[];
  nodeTimeoutMs?: number;
  redisExtraArgs?: string[];
  gateways?: number;
  gatewayPorts?: number[];
  /** Node flags for every gateway, e.g. ["--inspect=127.0.0.1:0"] to read its heap. */
  gatewayNodeArgs?: string[];
  /** Environment for every gateway, on top of REDIS_MODE=cluster and REDIS_NODES. */
  gatewayEnv?: Record<string, string>;
  /** Port for the balancer; none is started when omitted and `balancer` is false. */
  balancerPort?: number;
  balancer?: boolean;
  onGatewayLine?: GatewayProcessOptions["onLine"];
  /** Called as each component comes up, for progress output. */
  onProgress?: (line: string) => void;
}

export interface Topology {
  readonly dir: string;
  readonly redis: RedisCluster;
  readonly gateways: GatewayProcess[];
  readonly balancer: Balancer | undefined;
  /** Starts one more gateway on the same cluster (or restarts a stopped one on its port). */
  startGateway(port: number, env?: Record<string, string>): Promise<GatewayProcess>;
  stop(): Promise<void>;
}

export async function startTopology(o: TopologyOptions = {}): Promise<Topology> {
  const primaries = o.primaries ?? 3;
  const replicas = o.replicasPerPrimary ?? 0;
  const progress = o.onProgress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), "switchboard-"));
  const redisPorts = o.redisPorts ?? (await freePorts(primaries * (1 + replicas), { withClusterBus: true }));
  let redis: RedisCluster | undefined;
  const gateways: GatewayProcess[] = [];
  let balancer: Balancer | undefined;

  const stop = async () => {
    await balancer?.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    redis = await startRedisCluster({
      ports: redisPorts,
      primaries,
      replicasPerPrimary: replicas,
      dir,
      nodeTimeoutMs: o.nodeTimeoutMs,
      extraArgs: o.redisExtraArgs,
    });
    progress(`redis cluster: ${primaries} primaries${replicas ? `, ${replicas} replica(s) each` : ""} on ${redisPorts.join(", ")}`);

    const startGateway = async (port: number, env: Record<string, string> = {}) => {
      const g = startGatewayProcess({
        port,
        env: { REDIS_MODE: "cluster", REDIS_NODES: redis!.seeds, ...o.gatewayEnv, ...env },
        onLine: o.onGatewayLine,
        nodeArgs: o.gatewayNodeArgs,
      });
      const existing = gateways.findIndex((x) => x.port === port);
      if (existing >= 0) gateways[existing] = g;
      else gateways.push(g);
      await g.waitReady();
      progress(`gateway ${g.url} ready`);
      return g;
    };

    const gatewayPorts = o.gatewayPorts ?? (await freePorts(o.gateways ?? 2));
    await Promise.all(gatewayPorts.map((p) => startGateway(p)));

    if (o.balancer !== false && (o.balancerPort !== undefined || o.balancer)) {
      const port = o.balancerPort ?? (await freePorts(1))[0];
      balancer = await startBalancer({ port, targets: gatewayPorts.map((p) => ({ port: p })) });
      progress(`balancer on 127.0.0.1:${port} -> ${gatewayPorts.join(", ")} (round robin, no stickiness)`);
    }

    return { dir, redis, gateways, balancer, startGateway, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
