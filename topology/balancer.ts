/**
 * A TCP balancer for the local topology that behaves like the AWS NLB:
 * each new connection goes to the next ready gateway in turn, with no
 * stickiness, and a gateway whose /readyz fails stops receiving new
 * connections (its existing ones are left alone, as the NLB does).
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface BalancerTarget {
  port: number;
  host?: string;
}

export interface Balancer {
  readonly port: number;
  readonly server: Server;
  /** The targets that passed their last health check. */
  healthy(): BalancerTarget[];
  /** Runs the health checks now instead of waiting for the timer. */
  checkNow(): Promise<void>;
  close(): Promise<void>;
}

export interface BalancerOptions {
  port: number;
  host?: string;
  targets: BalancerTarget[];
  /** Health check interval; the NLB's fastest is 10 s, the local one checks more often to keep the demo brisk. */
  healthIntervalMs?: number;
}

export async function startBalancer(o: BalancerOptions): Promise<Balancer> {
  const status = new Map<BalancerTarget, boolean>(o.targets.map((t) => [t, false]));
  const sockets = new Set<Socket>();
  let next = 0;

  const check = async () => {
    await Promise.all(
      o.targets.map(async (t) => {
        try {
          const res = await fetch(`http://${t.host ?? "127.0.0.1"}:${t.port}/readyz`, { signal: AbortSignal.timeout(1500) });
          status.set(t, res.status === 200);
        } catch {
          status.set(t, false);
        }
      }),
    );
  };
  const healthy = () => o.targets.filter((t) => status.get(t));

  const server = createServer((client) => {
    const ready = healthy();
    if (ready.length === 0) {
      client.destroy();
      return;
    }
    const target = ready[next++ % ready.length];
    const upstream = connect({ port: target.port, host: target.host ?? "127.0.0.1" });
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream).pipe(client);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", teardown).on("close", teardown);
    upstream.on("error", teardown).on("close", teardown);
  });

  await check();
  const timer = setInterval(() => void check(), o.healthIntervalMs ?? 1000);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host ?? "127.0.0.1", () => resolve());
  });

  return {
    port: o.port,
    server,
    healthy,
    checkNow: check,
    async close() {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
