/** Fleet-level checks shared by the fault scenarios. */
import type { Topology } from "../topology/index.js";
import { waitFor } from "./cluster.js";

/** Pids of the gateway processes, to prove a scenario restarted none. */
export function gatewayPids(topo: Topology): number[] {
  return topo.gateways.map((g) => g.child.pid ?? -1);
}

export function gatewaysAlive(topo: Topology, pids: number[]): boolean {
  return topo.gateways.every((g, i) => g.child.pid === pids[i] && g.child.exitCode === null && g.child.signalCode === null);
}

/** Waits until the cluster is whole and every gateway says ready, so the next scenario starts clean. */
export async function waitFleetHealthy(topo: Topology, timeoutMs = 60_000): Promise<void> {
  await topo.redis.waitHealthy(timeoutMs);
  await waitFor(
    "every gateway ready",
    async () => (await Promise.all(topo.gateways.map((g) => g.readyz().then((r) => r.status === 200)))).every(Boolean) || undefined,
    timeoutMs,
  );
}
