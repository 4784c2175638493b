/**
 * A user of tenant A never receives, and never reaches, an event of tenant B,
 * whatever call id it sends: rooms are `call:<tenant>:<callId>` with the
 * tenant taken from the verified token, on every gateway of the fleet.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CLIENT_EVENT, ERROR_CODE, NAMESPACE, SERVER_EVENT, callRoom } from "../gateway/src/protocol.js";
import { decideRoom, managersWatch, sameTenantOnly } from "../gateway/src/room-policy.js";
import { startTopology, type Topology } from "../topology/index.js";
import { mintDevToken } from "../topology/dev-auth.js";
import { closeAllClients, collect, connectClient, nextEvent, sleep } from "./support/clients.js";

const A = "tenant-a";
const B = "tenant-b";

/** Every spelling of "tenant B's call c1" we could think of, as a callId or a whole payload. */
const SPELLINGS: Array<[string, Record<string, unknown>]> = [
  ["the same id", { callId: "c1" }],
  ["another case", { callId: "C1" }],
  ["tenant:id", { callId: `${B}:c1` }],
  ["the full room name", { callId: `call:${B}:c1` }],
  ["url-encoded colon", { callId: `${B}%3Ac1` }],
  ["tenant_id", { callId: `${B}_c1` }],
  ["tenant-id", { callId: `${B}-c1` }],
  ["leading space", { callId: " c1" }],
  ["trailing newline", { callId: "c1\n" }],
  ["NUL byte", { callId: "c1\u0000" }],
  ["hash tag", { callId: `{${B}}c1` }],
  ["path traversal", { callId: `../${B}/c1` }],
  ["fullwidth letters", { callId: "ｃ1" }],
  ["a glob", { callId: "*" }],
  ["an array", { callId: ["c1"] }],
  ["a nested object", { callId: { tenant: B, callId: "c1" } }],
  ["an extra tenant field", { callId: "c1", tenant: B }],
  ["an extra room field", { callId: "c1", room: `call:${B}:c1` }],
];

describe("tenant isolation across the fleet", () => {
  let topo: Topology;
  let gw: string[] = [];

  before(async () => {
    topo = await startTopology({ gateways: 2 });
    gw = topo.gateways.map((g) => g.url);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
  });

  const as = async (tenant: string, sub: string) => ({ auth: { token: await mintDevToken({ tenant, sub }) } });

  it("delivers nothing of tenant B to tenant A, and nothing of A to B, under every spelling", async () => {
    // Tenant B: members of c1 on both gateways, a watcher, and a sender.
    const bMembers = [await connectClient(gw[0], NAMESPACE.calls, await as(B, "b1")), await connectClient(gw[1], NAMESPACE.calls, await as(B, "b2"))];
    const bWatcher = await connectClient(gw[1], NAMESPACE.dashboard, await as(B, "b3"));
    const bSender = await connectClient(gw[0], NAMESPACE.calls, await as(B, "b4"));
    for (const m of [...bMembers, bSender]) assert.deepEqual(await m.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c1" }), { ok: true, room: callRoom(B, "c1") });
    assert.equal((await bWatcher.socket.emitWithAck(CLIENT_EVENT.watch, { callId: "c1" })).ok, true);

    // Tenant A: attackers on both gateways (calls and dashboard), and a
    // peer in A's own c1 to prove the attackers' events do go out.
    const attackers = [await connectClient(gw[0], NAMESPACE.calls, await as(A, "a1")), await connectClient(gw[1], NAMESPACE.calls, await as(A, "a2"))];
    const aWatchers = [await connectClient(gw[0], NAMESPACE.dashboard, await as(A, "a3")), await connectClient(gw[1], NAMESPACE.dashboard, await as(A, "a4"))];
    const aPeer = await connectClient(gw[1], NAMESPACE.calls, await as(A, "a5"));
    await aPeer.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c1" });

    const bGot = [...bMembers, bWatcher, bSender].map((c) => collect(c.socket, SERVER_EVENT.callEvent));
    const aGot = [...attackers, ...aWatchers].map((c) => collect(c.socket, SERVER_EVENT.callEvent));
    const aPeerGot = collect(aPeer.socket, SERVER_EVENT.callEvent);

    // Sending before joining anything is refused, whatever the spelling.
    for (const [label, payload] of SPELLINGS) {
      for (const attacker of attackers) {
        const early = await attacker.socket.emitWithAck(CLIENT_EVENT.callEvent, { ...payload, type: "probe", data: label });
        assert.equal(early.ok, false, `${label}: sent before joining`);
      }
    }
    let sent = 0;
    for (const [label, payload] of SPELLINGS) {
      for (const attacker of attackers) {
        const joined = await attacker.socket.emitWithAck(CLIENT_EVENT.join, payload);
        if (joined.ok) {
          assert.ok(joined.room.startsWith(`call:${A}:`), `${label}: joined ${joined.room}`);
          const ack = await attacker.socket.emitWithAck(CLIENT_EVENT.callEvent, { ...payload, type: "probe", data: label });
          assert.deepEqual(ack, { ok: true }, label);
          sent++;
        } else {
          assert.ok([ERROR_CODE.invalidCallId, ERROR_CODE.invalidPayload].includes(joined.error.code), `${label}: ${joined.error.code}`);
        }
      }
      for (const watcher of aWatchers) {
        const watched = await watcher.socket.emitWithAck(CLIENT_EVENT.watch, payload);
        if (watched.ok) assert.ok(watched.room.startsWith(`call:${A}:`), `${label}: watching ${watched.room}`);
      }
    }
    // Tenant B keeps talking while A's watchers sit in every room they could reach.
    assert.deepEqual(await bSender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "c1", type: "secret", data: "for B only" }), { ok: true });

    await sleep(1000);
    assert.ok(sent >= 4, `some spellings were accepted as A's own calls (${sent} events sent)`);
    assert.ok(aPeerGot.some((e) => e.type === "probe"), "the attackers' events went out (A's own member of c1 got them)");
    for (const got of bGot.slice(0, 3)) {
      assert.deepEqual(got.map((e) => e.type), ["secret"], "tenant B's members and watcher got B's event and nothing of A's");
    }
    for (const got of aGot) assert.ok(!got.some((e) => e.type === "secret"), "no attacker received tenant B's event");

    // The bus agrees: B's c1 and A's c1 are different sharded channels.
    const channels = topo.redis.nodes.flatMap((n) => topo.redis.cli(n.port, "PUBSUB", "SHARDCHANNELS", "socket.io#/calls#call:*").trim().split("\n").filter(Boolean));
    assert.ok(channels.includes(`socket.io#/calls#${callRoom(A, "c1")}#`), channels.join(", "));
    assert.ok(channels.includes(`socket.io#/calls#${callRoom(B, "c1")}#`), channels.join(", "));
  });

  it("leave cannot pull a member of another tenant out of its call", async () => {
    const b = await connectClient(gw[0], NAMESPACE.calls, await as(B, "b9"));
    const bPeer = await connectClient(gw[1], NAMESPACE.calls, await as(B, "b10"));
    const a = await connectClient(gw[0], NAMESPACE.calls, await as(A, "a9"));
    await b.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c2" });
    await bPeer.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c2" });
    assert.deepEqual(await a.socket.emitWithAck(CLIENT_EVENT.leave, { callId: "c2" }), { ok: true });
    const got = nextEvent(b.socket, SERVER_EVENT.callEvent);
    await bPeer.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "c2", type: "still-here", data: null });
    assert.equal((await got).type, "still-here");
  });

  it("the room policy decides, and the room always carries the token's tenant", async () => {
    const agent = { sub: "u1", tenant: A, authenticated: true, claims: { role: "agent" } };
    const manager = { ...agent, claims: { role: "manager" } };
    assert.deepEqual(await decideRoom(agent, { action: "join", callId: "c1" }, sameTenantOnly), { ok: true, room: callRoom(A, "c1") });
    assert.deepEqual(await decideRoom(agent, { action: "watch", callId: "c1" }, sameTenantOnly), { ok: true, room: callRoom(A, "c1") });
    const refused = await decideRoom(agent, { action: "watch", callId: "c1" }, managersWatch);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, ERROR_CODE.forbidden);
    assert.deepEqual(await decideRoom(manager, { action: "watch", callId: "c1" }, managersWatch), { ok: true, room: callRoom(A, "c1") });
    assert.deepEqual(await decideRoom(agent, { action: "join", callId: "c1" }, async () => true), { ok: true, room: callRoom(A, "c1") });
  });
});
