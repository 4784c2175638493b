/**
 * What admission costs per connection: N clients connect one after another
 * to one gateway on a local 3-shard cluster, with authentication and the
 * per-user limit (a JWT verification plus one Lua script) and with
 * AUTH_MODE=none, and the connect times are printed. Loopback only, bounded
 * (N connections per mode), stops by itself.
 *
 *   npx tsx bench/admission.ts [N=300]
 */
import { io } from "socket.io-client";
import { NAMESPACE } from "../gateway/src/protocol.js";
import { freePorts, startTopology } from "../topology/index.js";
import { mintDevToken } from "../topology/dev-auth.js";

const N = Math.min(Number(process.argv[2] ?? 300), 2000);
const topo = await startTopology({ gateways: 1 });
try {
  const [port] = await freePorts(1);
  const open = await topo.startGateway(port, { AUTH_MODE: "none", AUTH_SECRET: "" });
  for (const [label, url, withToken] of [
    ["auth on (HS256 + per-user limit in Redis)", topo.gateways[0].url, true],
    ["AUTH_MODE=none", open.url, false],
  ] as const) {
    const times: number[] = [];
    const sockets = [];
    for (let i = 0; i < N; i++) {
      const auth = withToken ? { token: await mintDevToken({ sub: `bench-${i}` }) } : {};
      const started = performance.now();
      const socket = io(url + NAMESPACE.calls, { transports: ["websocket"], reconnection: false, forceNew: true, auth });
      await new Promise<void>((resolve, reject) => {
        socket.once("server:hello", () => resolve());
        socket.once("connect_error", (e: Error & { data?: unknown }) => reject(new Error(`${e.message} ${JSON.stringify(e.data)}`)));
      });
      times.push(performance.now() - started);
      sockets.push(socket);
      if (sockets.length >= 250) sockets.shift()!.close();
    }
    for (const s of sockets) s.close();
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
    const mean = (times.reduce((a, b) => a + b, 0) / times.length).toFixed(2);
    console.log(`${label}: ${N} sequential connects, mean ${mean} ms, p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms`);
  }
} finally {
  await topo.stop();
}
