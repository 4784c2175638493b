/**
 * N server processes of one setup on a shared Redis cluster, each with its
 * inspector open so the bench can read its exact heap: `stock` runs
 * bench/stock-server.ts, `gateway` runs the gateway's own entry with all its
 * features on. Started through the topology fixture like every other run.
 */
import { fileURLToPath } from "node:url";
import { freePorts, startGatewayProcess, type GatewayProcess, type RedisCluster } from "../topology/index.js";
import { cpuSecondsOf, readMemory, type MemoryReading } from "./inspector.js";

export type Setup = "stock" | "gateway";
export const STOCK_ENTRY = fileURLToPath(new URL("./stock-server.ts", import.meta.url));

export interface ServerFleet {
  setup: Setup;
  servers: Array<{ process: GatewayProcess; inspectPort: number; url: string }>;
  urls: string[];
  memory(): Promise<MemoryReading[]>;
  cpuSeconds(): number[];
  stop(): Promise<void>;
}

export async function startServerFleet(
  setup: Setup,
  count: number,
  redis: RedisCluster,
  o: { env?: Record<string, string>; onLine?: (line: string) => void } = {},
): Promise<ServerFleet> {
  const ports = await freePorts(count * 2);
  const servers = Array.from({ length: count }, (_, i) => {
    const inspectPort = ports[count + i];
    const process = startGatewayProcess({
      port: ports[i],
      entry: setup === "stock" ? STOCK_ENTRY : undefined,
      nodeArgs: [`--inspect=127.0.0.1:${inspectPort}`],
      env: { REDIS_MODE: "cluster", REDIS_NODES: redis.seeds, LOG_LEVEL: "warn", ...o.env },
      onLine: (line, stream) => {
        // The inspector announces itself on stderr; everything else is worth seeing.
        if (!/Debugger listening|For help, see|Debugger attached|Waiting for the debugger/.test(line)) o.onLine?.(`[${setup} ${ports[i]} ${stream}] ${line}`);
      },
    });
    return { process, inspectPort, url: process.url };
  });
  const fleet: ServerFleet = {
    setup,
    servers,
    urls: servers.map((s) => s.url),
    memory: async () => {
      const out: MemoryReading[] = [];
      for (const s of servers) out.push(await readMemory(s.inspectPort, s.process.child.pid!));
      return out;
    },
    cpuSeconds: () => servers.map((s) => cpuSecondsOf(s.process.child.pid!)),
    stop: async () => {
      await Promise.all(servers.map((s) => s.process.stop(15_000)));
    },
  };
  try {
    await Promise.all(servers.map((s) => s.process.waitReady(60_000)));
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}
