/**
 * The stock setup the bench compares against: the seed's few lines, as a
 * team would write them from the Socket.IO docs (websocket only, the sharded
 * Redis adapter, a `join` handler), plus the one line the fan-out scenario
 * needs: relay `call:event` to the room. Nothing else: no validation, no
 * metrics, no readiness logic (every HTTP request answers "ok").
 *
 * STOCK_ADAPTER picks the adapter for the broker-load comparison:
 * `dynamic` (the seed: createShardedAdapter, its default mode), `static`
 * (createShardedAdapter, one channel per namespace) or `classic`
 * (createAdapter: PUBLISH/PSUBSCRIBE, which Redis Cluster copies to every node).
 */
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createCluster } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";

const nodes = process.env.REDIS_NODES!.split(",").map((s) => { const [host, port] = s.split(":"); return { socket: { host, port: Number(port) } }; });
const pub = createCluster({ rootNodes: nodes }); const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const mode = process.env.STOCK_ADAPTER ?? "dynamic";
const adapter = mode === "classic" ? createAdapter(pub, sub) : createShardedAdapter(pub, sub, { subscriptionMode: mode as "dynamic" | "static" });
const httpServer = createServer((req, res) => { res.end("ok"); });
const io = new Server(httpServer, { transports: ["websocket"], adapter });
io.of("/calls").on("connection", (socket) => {
  socket.on("join", ({ callId }, ack) => { socket.join(`call:${callId}`); ack?.({ ok: true }); });
  // The bench's one addition: relay to the room, as the seed's clients would need.
  socket.on("call:event", (event, ack) => { socket.to(`call:${event.callId}`).emit("call:event", event); ack?.({ ok: true }); });
});
httpServer.listen(Number(process.env.PORT), "127.0.0.1");
