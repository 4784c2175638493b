/**
 * What one `PUBSUB SHARDCHANNELS` poll costs as rooms grow: the per-shard
 * `redis_pubsub_channels` gauge polls every primary with it every
 * SHARD_CHANNELS_POLL_SECONDS, and the reply lists every channel of the shard.
 * Prints the round trip and reply size at 1k, 10k and 30k channels on one
 * loopback redis-server (a free port, stopped at the end).
 *
 *   npx tsx scripts/bench-shard-channels.ts
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import { freePorts } from "../topology/index.js";

const SIZES = [1000, 10_000, 30_000];
const ROUNDS = 20;

const [port] = await freePorts(1);
const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
try {
  await sleep(500);
  const sub = createClient({ socket: { host: "127.0.0.1", port } });
  const query = createClient({ socket: { host: "127.0.0.1", port } });
  await Promise.all([sub.connect(), query.connect()]);
  let subscribed = 0;
  for (const size of SIZES) {
    const pending = [];
    // Channel names as the sharded adapter builds them for rooms.
    for (; subscribed < size; subscribed++) pending.push(sub.sSubscribe(`socket.io#/calls#call:room-${subscribed}#`, () => {}));
    await Promise.all(pending);
    let reply: string[] = [];
    const started = performance.now();
    for (let i = 0; i < ROUNDS; i++) reply = (await query.sendCommand(["PUBSUB", "SHARDCHANNELS"])) as string[];
    const ms = (performance.now() - started) / ROUNDS;
    // RESP: "$<len>\r\n<name>\r\n" per element.
    const bytes = reply.reduce((sum, name) => sum + name.length + String(name.length).length + 5, 0);
    console.log(`channels=${reply.length}  PUBSUB SHARDCHANNELS round trip ${ms.toFixed(2)} ms  reply ${(bytes / 1024).toFixed(0)} KiB`);
  }
  await Promise.all([sub.quit(), query.quit()]);
} finally {
  server.kill();
}
