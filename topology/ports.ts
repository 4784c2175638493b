/** Finding free loopback ports for the processes a topology starts. */
import { createServer } from "node:net";

export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` free ports chosen at random in [from, to). Redis Cluster also binds
 * port+10000 for its bus, so with `withClusterBus` both must be free; the
 * default range keeps those below Linux's ephemeral range (32768+).
 */
export async function freePorts(count: number, o: { from?: number; to?: number; withClusterBus?: boolean } = {}): Promise<number[]> {
  const from = o.from ?? 12000;
  const to = o.to ?? 22000;
  const chosen: number[] = [];
  for (let attempts = 0; chosen.length < count; attempts++) {
    if (attempts > 2000) throw new Error(`could not find ${count} free ports in ${from}-${to}`);
    const port = from + Math.floor(Math.random() * (to - from));
    if (chosen.includes(port) || (o.withClusterBus && chosen.includes(port + 10000))) continue;
    if (!(await isPortFree(port))) continue;
    if (o.withClusterBus && !(await isPortFree(port + 10000))) continue;
    chosen.push(port);
  }
  return chosen;
}
