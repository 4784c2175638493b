/**
 * /metrics on two real gateways over a real 3-shard Redis cluster: the
 * numbers move as clients connect, join, send and leave. Shard channel counts
 * are polled every second here (SHARD_CHANNELS_POLL_SECONDS=1), so figures
 * that depend on a poll are awaited with waitFor (15 s bound: 1 s polls on a
 * loaded 2-core machine) instead of being read once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { CLIENT_EVENT, ERROR_CODE, NAMESPACE } from "../gateway/src/protocol.js";
import { closeAllClients, connectClient, nextEvent, sleep } from "./support/clients.js";
import { scrape, waitFor, type Scrape } from "./support/prometheus.js";

const SUBSCRIBED = { scope: "subscribed" };

describe("/metrics on two gateways", () => {
  let topo: Topology;
  let [a, b] = ["", ""];

  before(async () => {
    topo = await startTopology({ gateways: 2, gatewayEnv: { SHARD_CHANNELS_POLL_SECONDS: "1" } });
    [a, b] = topo.gateways.map((g) => g.url);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  /** The channel count summed over the shards, once every primary has answered a poll. */
  async function shardTotal(url: string): Promise<{ total: number; perShard: Record<string, number> }> {
    let last: Scrape | undefined;
    await waitFor(
      async () => (last = await scrape(url)).all("redis_pubsub_channels", { scope: "shard" }).length === topo.redis.nodes.length,
      () => `shard series: ${JSON.stringify(last?.all("redis_pubsub_channels", { scope: "shard" }))}`,
    );
    const perShard = Object.fromEntries(last!.all("redis_pubsub_channels", { scope: "shard" }).map((s) => [s.labels.shard, s.value]));
    return { total: Object.values(perShard).reduce((x, y) => x + y, 0), perShard };
  }

  /** Waits until a metric on one gateway reaches `expected`. */
  async function expectValue(url: string, name: string, labels: Record<string, string>, expected: number): Promise<void> {
    let seen: number | undefined;
    await waitFor(
      async () => (seen = (await scrape(url)).sum(name, labels)) === expected,
      () => `${name}${JSON.stringify(labels)} on ${url} is ${seen}, expected ${expected}`,
    );
  }

  /** Waits until the shards' total reaches `expected` (the next polls must catch up). */
  async function expectShardTotal(expected: number): Promise<void> {
    let seen: number | undefined;
    await waitFor(
      async () => (seen = (await shardTotal(a)).total) === expected,
      () => `channels over all shards: ${seen}, expected ${expected}`,
    );
  }

  /** Channels per shard as Redis lists them, keyed like the gauge's shard label. */
  function redisShardChannels(): Record<string, number> {
    return Object.fromEntries(
      topo.redis.nodes.map((n) => [`127.0.0.1:${n.port}`, topo.redis.cli(n.port, "PUBSUB", "SHARDCHANNELS").split("\n").filter(Boolean).length]),
    );
  }

  /** Sum of `ssub=` (sharded subscriptions) over every client of every node, as Redis itself counts them. */
  function redisShardSubscriptions(): number {
    let total = 0;
    for (const node of topo.redis.nodes) {
      for (const m of topo.redis.cli(node.port, "CLIENT", "LIST").matchAll(/ssub=(\d+)/g)) total += Number(m[1]);
    }
    return total;
  }

  it("serves the Prometheus text format with the default process metrics", async () => {
    const s = await scrape(a);
    assert.ok(s.all("nodejs_eventloop_lag_p99_seconds").length === 1, "event-loop lag p99");
    assert.ok(s.all("process_resident_memory_bytes").length === 1, "resident memory");
    assert.equal(s.one("socket_io_connected", { namespace: NAMESPACE.calls }), 0);
    assert.equal(s.one("socket_io_connected", { namespace: NAMESPACE.dashboard }), 0);
  });

  it("counts connected sockets per gateway and namespace, and accepted connections", async () => {
    const acceptedBefore = (await scrape(a)).sum("socket_io_connections_accepted_total", { namespace: NAMESPACE.calls });
    const onA = await Promise.all([1, 2, 3].map(() => connectClient(a, NAMESPACE.calls)));
    const onB = await connectClient(b, NAMESPACE.calls);
    const watchers = await Promise.all([1, 2].map(() => connectClient(a, NAMESPACE.dashboard)));

    const sa = await scrape(a);
    const sb = await scrape(b);
    assert.equal(sa.one("socket_io_connected", { namespace: NAMESPACE.calls }), 3);
    assert.equal(sa.one("socket_io_connected", { namespace: NAMESPACE.dashboard }), 2);
    assert.equal(sb.one("socket_io_connected", { namespace: NAMESPACE.calls }), 1);
    assert.equal(sb.one("socket_io_connected", { namespace: NAMESPACE.dashboard }), 0);
    assert.equal(sa.sum("socket_io_connections_accepted_total", { namespace: NAMESPACE.calls }) - acceptedBefore, 3);

    onA[0].socket.close();
    await expectValue(a, "socket_io_connected", { namespace: NAMESPACE.calls }, 2);
    for (const c of [...onA, onB, ...watchers]) c.socket.close();
    await expectValue(a, "socket_io_connected", {}, 0);
    await expectValue(b, "socket_io_connected", {}, 0);
  });

  it("counts sharded channels: this process's subscriptions and each shard's, up on the first join, down after the last leave", async () => {
    const baseA = (await scrape(a)).one("redis_pubsub_channels", SUBSCRIBED);
    const baseB = (await scrape(b)).one("redis_pubsub_channels", SUBSCRIBED);
    // 2 channels per namespace adapter ("/", /calls, /dashboard): the namespace channel and the adapter's response channel.
    assert.equal(baseA, 6);
    assert.equal(baseB, 6);
    assert.equal(redisShardSubscriptions(), baseA + baseB, "Redis counts the same subscriptions as the gateways");
    // The gauge is refreshed by a poll: wait until it shows what Redis lists now.
    const fromRedis = redisShardChannels();
    await expectShardTotal(Object.values(fromRedis).reduce((x, y) => x + y, 0));
    const base = await shardTotal(a);
    assert.deepEqual(base.perShard, fromRedis);

    const memberA = await connectClient(a, NAMESPACE.calls);
    const memberB = await connectClient(b, NAMESPACE.calls);
    assert.deepEqual(await memberA.socket.emitWithAck(CLIENT_EVENT.join, { callId: "chan-1" }), { ok: true, room: "call:acme:chan-1" });
    await expectValue(a, "redis_pubsub_channels", SUBSCRIBED, baseA + 1);
    await expectShardTotal(base.total + 1);
    const joined = await shardTotal(a);
    const grew = Object.keys(joined.perShard).filter((shard) => joined.perShard[shard] !== base.perShard[shard]);
    assert.equal(grew.length, 1, `exactly one shard carries the new room's channel: ${JSON.stringify({ base, joined })}`);

    // The same room joined on B: B subscribes too, but it is the same channel.
    await memberB.socket.emitWithAck(CLIENT_EVENT.join, { callId: "chan-1" });
    await expectValue(b, "redis_pubsub_channels", SUBSCRIBED, baseB + 1);
    assert.equal(redisShardSubscriptions(), baseA + baseB + 2);
    // A second join to a room already joined changes nothing.
    await memberA.socket.emitWithAck(CLIENT_EVENT.join, { callId: "chan-1" });
    assert.equal((await scrape(a)).one("redis_pubsub_channels", SUBSCRIBED), baseA + 1);

    // A's last member leaves: A unsubscribes; the channel lives on for B.
    assert.deepEqual(await memberA.socket.emitWithAck(CLIENT_EVENT.leave, { callId: "chan-1" }), { ok: true });
    await expectValue(a, "redis_pubsub_channels", SUBSCRIBED, baseA);
    await sleep(2500); // two more polls
    assert.equal((await shardTotal(a)).total, base.total + 1, "B still holds the channel");

    // B's member disconnects without leaving: the room is deleted all the same.
    memberB.socket.close();
    await expectValue(b, "redis_pubsub_channels", SUBSCRIBED, baseB);
    await expectShardTotal(base.total);
    assert.equal(redisShardSubscriptions(), baseA + baseB);
    memberA.socket.close();
  });

  it("counts events by type, drops by code, broadcasts and their publish latency, and cross-gateway delivery latency", async () => {
    const sender = await connectClient(b, NAMESPACE.calls);
    const member = await connectClient(a, NAMESPACE.calls);
    await sender.socket.emitWithAck(CLIENT_EVENT.join, { callId: "ev" });
    await member.socket.emitWithAck(CLIENT_EVENT.join, { callId: "ev" });
    const [a0, b0] = [await scrape(a), await scrape(b)];
    const deliveryA0 = a0.sum("socket_io_delivery_latency_seconds_count", { namespace: NAMESPACE.calls });

    for (let i = 0; i < 3; i++) {
      const arrived = nextEvent(member.socket, "call:event");
      assert.deepEqual(await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "ev", type: "status", data: i }), { ok: true });
      await arrived;
    }
    const bad = await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "no spaces allowed", type: "status", data: 1 });
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, ERROR_CODE.invalidCallId);

    const [a1, b1] = [await scrape(a), await scrape(b)];
    const moved = (s0: Scrape, s1: Scrape, name: string, labels: Record<string, string>) => s1.sum(name, labels) - s0.sum(name, labels);
    assert.equal(moved(b0, b1, "socket_io_events_received_total", { namespace: NAMESPACE.calls, event: CLIENT_EVENT.callEvent }), 4);
    assert.equal(
      moved(b0, b1, "socket_io_events_dropped_total", { namespace: NAMESPACE.calls, event: CLIENT_EVENT.callEvent, code: ERROR_CODE.invalidCallId }),
      1,
    );
    // Each call:event is published twice: to /calls and to the call's /dashboard watchers.
    assert.equal(moved(b0, b1, "socket_io_broadcasts_published_total", { namespace: NAMESPACE.calls, outcome: "ok" }), 6);
    assert.equal(moved(b0, b1, "redis_publish_duration_seconds_count", { outcome: "ok" }), 6);
    assert.equal(moved(b0, b1, "redis_publish_duration_seconds_count", { outcome: "failed" }), 0);
    // Delivery latency: measured where the event arrives from another gateway, never for a gateway's own publishes.
    assert.equal(a1.sum("socket_io_delivery_latency_seconds_count", { namespace: NAMESPACE.calls }) - deliveryA0, 3);
    assert.equal(moved(b0, b1, "socket_io_delivery_latency_seconds_count", {}), 0);
    const inf = a1.one("socket_io_delivery_latency_seconds_bucket", { namespace: NAMESPACE.calls, le: "+Inf" });
    assert.equal(inf, a1.one("socket_io_delivery_latency_seconds_count", { namespace: NAMESPACE.calls }));
    assert.ok(a1.one("socket_io_delivery_latency_seconds_sum", { namespace: NAMESPACE.calls }) >= 0);
    sender.socket.close();
    member.socket.close();
  });

  it("keeps answering and drops a shard's figure while that shard does not answer its poll", async () => {
    const stalled = topo.redis.nodes[0].port;
    const shard = Object.keys((await shardTotal(a)).perShard).find((s) => s.endsWith(`:${stalled}`));
    assert.ok(shard, `a shard series for port ${stalled}`);
    const failuresBefore = (await scrape(a)).sum("redis_pubsub_shard_poll_failures_total", { shard });
    topo.redis.signal(stalled, "SIGSTOP");
    try {
      let last: Scrape | undefined;
      // Each scrape is bounded by scrape()'s 5 s timeout: it must not wait on the stalled shard.
      await waitFor(
        async () => {
          last = await scrape(a);
          return (
            last.sum("redis_pubsub_shard_poll_failures_total", { shard }) > failuresBefore &&
            last.all("redis_pubsub_channels", { scope: "shard", shard }).length === 0
          );
        },
        () => `failures ${last?.sum("redis_pubsub_shard_poll_failures_total", { shard })}, series ${JSON.stringify(last?.all("redis_pubsub_channels", { scope: "shard" }))}`,
      );
      assert.equal(last!.all("redis_pubsub_channels", { scope: "shard" }).length, topo.redis.nodes.length - 1, "the other shards are still reported");
    } finally {
      topo.redis.signal(stalled, "SIGCONT");
    }
    await topo.redis.waitHealthy(30_000);
    await shardTotal(a);
  });
});
