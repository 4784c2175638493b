/**
 * POST /v1/publish on real gateway processes over a real 3-shard cluster:
 * every status it documents, and an end-to-end delivery to clients of the
 * room on two gateways (and to the call's dashboard watchers).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { roomChannel } from "../gateway/src/channels.js";
import { CLIENT_EVENT, ERROR_CODE, NAMESPACE, PUBLISH_PATH, SERVER_EVENT, type RelayedCallEvent } from "../gateway/src/protocol.js";
import { freePorts, startTopology, type GatewayProcess, type Topology } from "../topology/index.js";
import { closeAllClients, collect, connectClient, nextEvent, sleep } from "./support/clients.js";
import { primaryFor } from "../faults/cluster.js";

const SECRET = "test-publish-secret-0123456789abcdef";
const MAX_BYTES = 2048;

async function post(gateway: GatewayProcess, body: unknown, o: { secret?: string | null; method?: string; raw?: string } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const secret = o.secret === undefined ? SECRET : o.secret;
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  const res = await fetch(gateway.url + PUBLISH_PATH, {
    method: o.method ?? "POST",
    headers,
    body: o.method === "GET" ? undefined : (o.raw ?? JSON.stringify(body)),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, body: (await res.json().catch(() => undefined)) as any };
}

describe("POST /v1/publish", () => {
  let topo: Topology;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let throttled: GatewayProcess;
  let disabled: GatewayProcess;

  before(async () => {
    topo = await startTopology({
      gateways: 2,
      gatewayEnv: { PUBLISH_SECRET: SECRET, PUBLISH_MAX_BYTES: String(MAX_BYTES), PUBLISH_TIMEOUT_MS: "500" },
    });
    [a, b] = topo.gateways;
    const [p3, p4] = await freePorts(2);
    throttled = await topo.startGateway(p3, { PUBLISH_RATE_PER_SECOND: "1", PUBLISH_RATE_BURST: "2" });
    disabled = await topo.startGateway(p4, { PUBLISH_SECRET: "" });
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  it("202: delivers a call:event to the room's members on two gateways and its watchers, not to other rooms", async () => {
    const room = "call:acme:http-e2e";
    const onA = await connectClient(a.url, NAMESPACE.calls);
    const onB = await connectClient(b.url, NAMESPACE.calls);
    const watcher = await connectClient(b.url, NAMESPACE.dashboard);
    const elsewhere = await connectClient(a.url, NAMESPACE.calls);
    await onA.socket.emitWithAck(CLIENT_EVENT.join, { callId: "http-e2e" });
    await onB.socket.emitWithAck(CLIENT_EVENT.join, { callId: "http-e2e" });
    await watcher.socket.emitWithAck(CLIENT_EVENT.watch, { callId: "http-e2e" });
    await elsewhere.socket.emitWithAck(CLIENT_EVENT.join, { callId: "http-other" });
    const elsewhereGot = collect(elsewhere.socket, SERVER_EVENT.callEvent);
    const got = [onA, onB, watcher].map((c) => nextEvent<RelayedCallEvent>(c.socket, SERVER_EVENT.callEvent));

    const res = await post(a, { room, event: "status", data: { state: "ringing" }, service: "crm" });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    assert.equal(res.body.event, SERVER_EVENT.callEvent);
    assert.deepEqual(
      res.body.deliveries.map((d: any) => [d.namespace, d.channel]),
      [
        [NAMESPACE.calls, roomChannel(NAMESPACE.calls, room)],
        [NAMESPACE.dashboard, roomChannel(NAMESPACE.dashboard, room)],
      ],
    );
    // SPUBLISH's count: both gateways subscribe to the /calls room channel, only B to the /dashboard one.
    assert.deepEqual(res.body.deliveries.map((d: any) => d.receivers), [2, 1]);

    for (const event of await Promise.all(got)) {
      assert.deepEqual(event, res.body.payload);
      assert.equal(event.callId, "http-e2e");
      assert.equal(event.type, "status");
      assert.deepEqual(event.data, { state: "ringing" });
      assert.equal(event.from, "service:crm");
      assert.equal(event.via, `gw-${a.port}`);
    }
    await sleep(300);
    assert.equal(elsewhereGot.length, 0, "a member of another call received nothing");
  });

  it("accepts a tenant room call:<tenant>:<id> and publishes to that room's own channel", async () => {
    const res0 = await post(a, { room: "call:acme:t1", event: "status", namespace: NAMESPACE.calls });
    assert.equal(res0.status, 202, JSON.stringify(res0.body));
    assert.equal(res0.body.payload.callId, "t1");
    assert.equal(res0.body.deliveries[0].channel, roomChannel(NAMESPACE.calls, "call:acme:t1"));
  });

  it("400 names the field that is wrong, and publishes nothing", async () => {
    const member = await connectClient(a.url, NAMESPACE.calls);
    await member.socket.emitWithAck(CLIENT_EVENT.join, { callId: "bad-input" });
    const got = collect(member.socket, SERVER_EVENT.callEvent);
    const cases: Array<[unknown, string, string, string?]> = [
      [{ room: "call:{x}", event: "status" }, "room", ERROR_CODE.invalidRoom],
      [{ room: "lobby", event: "status" }, "room", ERROR_CODE.invalidRoom],
      [{ room: "call:bad-input", event: "" }, "event", ERROR_CODE.invalidEvent],
      [{ room: "call:bad-input", event: "a b" }, "event", ERROR_CODE.invalidEvent],
      [{ room: "call:bad-input", event: "status", namespace: "/admin" }, "namespace", ERROR_CODE.invalidNamespace],
      [{ room: "call:bad-input", event: "status", service: "crm hook" }, "service", ERROR_CODE.invalidBody],
      [{ room: "call:bad-input", event: "status", rooom: "x" }, "rooom", ERROR_CODE.invalidBody],
      [[1, 2], "body", ERROR_CODE.invalidBody],
      [undefined, "body", ERROR_CODE.invalidBody, "{not json"],
    ];
    for (const [body, field, code, raw] of cases) {
      const res = await post(a, body, { raw });
      assert.equal(res.status, 400, `${JSON.stringify(body ?? raw)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, field);
      assert.equal(res.body.error.code, code);
      assert.ok(res.body.error.message.length > 10);
    }
    await sleep(300);
    assert.equal(got.length, 0);
  });

  it("401 without a credential or with a wrong one", async () => {
    for (const secret of [null, "wrong-secret-wrong-secret-wrong-secret"]) {
      const res = await post(a, { room: "call:abc", event: "status" }, { secret });
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, ERROR_CODE.unauthorized);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
  });

  it("403 when the gateway has no PUBLISH_SECRET (publishing disabled)", async () => {
    const res = await post(disabled, { room: "call:abc", event: "status" });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, ERROR_CODE.publishingDisabled);
    assert.match(res.body.error.message, /PUBLISH_SECRET/);
  });

  it("405 for other methods", async () => {
    const res = await post(a, undefined, { method: "GET" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
  });

  it("413 for a body over PUBLISH_MAX_BYTES", async () => {
    const res = await post(a, { room: "call:abc", event: "status", data: "x".repeat(MAX_BYTES) });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, ERROR_CODE.bodyTooLarge);
    // Just under the cap is fine.
    const fits = await post(a, { room: "call:abc", event: "status", data: "x".repeat(MAX_BYTES - 100) });
    assert.equal(fits.status, 202, JSON.stringify(fits.body));
  });

  it("429 past the burst, with Retry-After; wrong credentials spend the client IP's tokens", async () => {
    // Burst 2 at 1/s: two pass, the third in the same instant does not (a loaded machine refills at most a token or two).
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 6 && !limited; i++) {
      const res = await post(throttled, { room: "call:abc", event: "status" });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    assert.ok(limited, `no 429 in ${statuses.join(",")}`);
    assert.equal(statuses[0], 202);
    assert.equal(limited.body.error.code, ERROR_CODE.rateLimited);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);

    const guesses: number[] = [];
    for (let i = 0; i < 6 && !guesses.includes(429); i++) {
      guesses.push((await post(throttled, { room: "call:abc", event: "status" }, { secret: `guess-${i}` })).status);
    }
    assert.equal(guesses[0], 401);
    assert.ok(guesses.includes(429), `guesses were never limited: ${guesses.join(",")}`);
  });

  it("503 when the bus does not acknowledge (the room's shard is stalled), then 202 again", async () => {
    const room = "call:stalled";
    const owner = await primaryFor(topo.redis, roomChannel(NAMESPACE.calls, room));
    topo.redis.signal(owner, "SIGSTOP");
    try {
      const res = await post(a, { room, event: "status", namespace: NAMESPACE.calls });
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.error.code, ERROR_CODE.publishFailed);
      assert.equal(res.headers.get("retry-after"), "1");
    } finally {
      topo.redis.signal(owner, "SIGCONT");
    }
    // Generous: the connection to the resumed node may need a reconnect on a loaded machine.
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (status !== 202 && Date.now() < deadline) {
      status = (await post(a, { room, event: "status", namespace: NAMESPACE.calls })).status;
      if (status !== 202) await sleep(250);
    }
    assert.equal(status, 202);
  });
});
