/**
 * Authentication at the handshake: a JWT in `auth.token`, verified with a
 * shared secret (HS256) or against a real JWKS served over HTTP (RS256,
 * ES256). Every refusal is a `connect_error` with a stable code, and the
 * gateway logs why without logging the token.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { CLIENT_EVENT, CONNECT_ERROR_CODE, NAMESPACE, callRoom } from "../gateway/src/protocol.js";
import { ANONYMOUS_TENANT } from "../gateway/src/identity.js";
import { freePorts, startTopology, type GatewayProcess, type Topology } from "../topology/index.js";
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TENANT, mintDevToken } from "../topology/dev-auth.js";
import { GATEWAY_ENTRY, REPO_ROOT } from "../topology/gateway-process.js";
import { closeAllClients, connectClient } from "./support/clients.js";
import { connectRefused, metricSum } from "./support/admission.js";

const IDP_ISSUER = "https://idp.example.test/";

describe("authentication at the handshake", () => {
  let topo: Topology;
  let hs: GatewayProcess;
  let jwks: GatewayProcess;
  let jwksDown: GatewayProcess;
  let open: GatewayProcess;
  let idp: Server;
  const keys: Record<"rsa" | "ec" | "rogue" | "rotated", { privateKey: CryptoKey; publicJwk: object; kid: string; alg: string }> = {} as never;
  let published: { keys: object[] };

  before(async () => {
    // A real JWKS over HTTP, as an identity provider publishes it.
    for (const [name, alg] of [["rsa", "RS256"], ["ec", "ES256"], ["rogue", "RS256"], ["rotated", "ES256"]] as const) {
      const pair = await generateKeyPair(alg, { extractable: true });
      const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: `${name}-key`, alg, use: "sig" };
      keys[name] = { privateKey: pair.privateKey, publicJwk, kid: `${name}-key`, alg };
    }
    published = { keys: [keys.rsa.publicJwk, keys.ec.publicJwk] };
    idp = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(published));
    });
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", () => r()));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;

    topo = await startTopology({ gateways: 1 });
    hs = topo.gateways[0];
    const [p1, p2, p3, deadPort] = await freePorts(4);
    const jwksEnv = { AUTH_MODE: "jwks", AUTH_SECRET: "", AUTH_ISSUER: IDP_ISSUER, AUTH_AUDIENCE: "switchboard-api", AUTH_JWKS_COOLDOWN_SECONDS: "1" };
    [jwks, jwksDown, open] = await Promise.all([
      topo.startGateway(p1, { ...jwksEnv, AUTH_JWKS_URL: jwksUrl }),
      topo.startGateway(p2, { ...jwksEnv, AUTH_JWKS_URL: `http://127.0.0.1:${deadPort}/jwks.json` }),
      topo.startGateway(p3, { AUTH_MODE: "none", AUTH_SECRET: "" }),
    ]);
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
    await new Promise((r) => idp?.close(r));
  });

  const idpToken = (key: keyof typeof keys, claims: Record<string, unknown> = {}, o: { audience?: string; exp?: number } = {}) =>
    new SignJWT({ tenant: DEV_TENANT, ...claims })
      .setProtectedHeader({ alg: keys[key].alg, kid: keys[key].kid })
      .setSubject("idp-user")
      .setIssuer(IDP_ISSUER)
      .setAudience(o.audience ?? "switchboard-api")
      .setIssuedAt()
      .setExpirationTime(o.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(keys[key].privateKey);

  it("accepts a valid HS256 token and puts the user in its tenant's room", async () => {
    const c = await connectClient(hs.url, NAMESPACE.calls, { auth: { token: await mintDevToken({ sub: "alice", tenant: "tenant-a" }) } });
    assert.deepEqual(await c.socket.emitWithAck(CLIENT_EVENT.join, { callId: "c1" }), { ok: true, room: callRoom("tenant-a", "c1") });
  });

  const refusals: Array<[string, () => Promise<Record<string, unknown>>, string]> = [
    ["no auth at all", async () => ({ auth: undefined as unknown }), CONNECT_ERROR_CODE.authMissing],
    ["an empty auth object", async () => ({ auth: {} }), CONNECT_ERROR_CODE.authMissing],
    ["the token in the query string instead of auth", async () => ({ auth: {}, query: { token: await mintDevToken() } }), CONNECT_ERROR_CODE.authMissing],
    ["a token that is a number", async () => ({ auth: { token: 42 } }), CONNECT_ERROR_CODE.authInvalid],
    ["a malformed token", async () => ({ auth: { token: "not.a.jwt" } }), CONNECT_ERROR_CODE.authInvalid],
    ["a 20 KB token", async () => ({ auth: { token: "x".repeat(20_000) } }), CONNECT_ERROR_CODE.authInvalid],
    ["a token signed with another secret", async () => ({ auth: { token: await mintDevToken({ secret: "another-secret-of-at-least-32-bytes!!" }) } }), CONNECT_ERROR_CODE.authInvalid],
    ["an expired token (beyond the 10 s tolerance)", async () => ({ auth: { token: await mintDevToken({ expiresInSeconds: -60 }) } }), CONNECT_ERROR_CODE.authExpired],
    ["a token for another audience", async () => ({ auth: { token: await mintDevToken({ audience: "some-other-service" }) } }), CONNECT_ERROR_CODE.authInvalid],
    ["a token from another issuer", async () => ({ auth: { token: await mintDevToken({ issuer: "someone-else" }) } }), CONNECT_ERROR_CODE.authInvalid],
    ["a token without a tenant claim", async () => ({ auth: { token: await mintDevToken({ claims: { tenant: undefined } }) } }), CONNECT_ERROR_CODE.authInvalid],
    ["a tenant with a colon (room forgery)", async () => ({ auth: { token: await mintDevToken({ tenant: "b:c1" }) } }), CONNECT_ERROR_CODE.authInvalid],
    ["a tenant with a hash tag", async () => ({ auth: { token: await mintDevToken({ tenant: "{b}" }) } }), CONNECT_ERROR_CODE.authInvalid],
    ["an unsigned token (alg none)", async () => ({ auth: { token: unsignedToken() } }), CONNECT_ERROR_CODE.authInvalid],
  ];
  for (const [label, opts, code] of refusals) {
    it(`refuses ${label} with ${code}`, async () => {
      const o = await opts();
      if (o.auth === undefined) delete o.auth;
      const refused = await connectRefused(hs.url, NAMESPACE.calls, o);
      assert.equal(refused.code, code, refused.message);
      assert.equal(typeof refused.message, "string");
    });
  }

  it("refuses the dashboard namespace the same way, and the main namespace always", async () => {
    assert.equal((await connectRefused(hs.url, NAMESPACE.dashboard, { auth: {} })).code, CONNECT_ERROR_CODE.authMissing);
    assert.equal((await connectRefused(hs.url, "/", { auth: { token: await mintDevToken() } })).code, CONNECT_ERROR_CODE.namespaceNotServed);
  });

  it("logs each refusal's reason and counts it, never the token", async () => {
    const token = await mintDevToken({ secret: "a-third-secret-of-at-least-32-bytes!!" });
    const before = await metricSum(hs.url, 'socket_io_connections_rejected_total{namespace="/calls",reason="auth_invalid"}');
    await connectRefused(hs.url, NAMESPACE.calls, { auth: { token } });
    const after = await metricSum(hs.url, 'socket_io_connections_rejected_total{namespace="/calls",reason="auth_invalid"}');
    assert.equal(after - before, 1);
    const lines = hs.output.filter((l) => l.includes("connection refused"));
    assert.ok(lines.some((l) => /"code":"auth_invalid"/.test(l) && /signature/.test(l)), lines.slice(-3).join("\n"));
    const signature = token.split(".")[2];
    assert.ok(!hs.output.some((l) => l.includes(signature) || l.includes(token)), "no log line contains the token");
  });

  it("accepts RS256 and ES256 tokens whose keys the JWKS publishes", async () => {
    for (const key of ["rsa", "ec"] as const) {
      const c = await connectClient(jwks.url, NAMESPACE.calls, { auth: { token: await idpToken(key) } });
      assert.deepEqual(await c.socket.emitWithAck(CLIENT_EVENT.join, { callId: "j1" }), { ok: true, room: callRoom(DEV_TENANT, "j1") });
    }
  });

  it("refuses JWKS-mode tokens: unknown key, wrong audience, expired, and an HS256 token", async () => {
    const cases: Array<[string, string]> = [
      [await idpToken("rogue"), CONNECT_ERROR_CODE.authInvalid],
      [await idpToken("rsa", {}, { audience: DEV_AUDIENCE }), CONNECT_ERROR_CODE.authInvalid],
      [await idpToken("ec", {}, { exp: Math.floor(Date.now() / 1000) - 120 }), CONNECT_ERROR_CODE.authExpired],
      [await mintDevToken({ issuer: IDP_ISSUER, audience: "switchboard-api" }), CONNECT_ERROR_CODE.authInvalid],
    ];
    for (const [token, code] of cases) {
      assert.equal((await connectRefused(jwks.url, NAMESPACE.calls, { auth: { token } })).code, code);
    }
  });

  it("picks up a rotated key without a restart, once the refetch cooldown has passed", async () => {
    const token = await idpToken("rotated");
    assert.equal((await connectRefused(jwks.url, NAMESPACE.calls, { auth: { token } })).code, CONNECT_ERROR_CODE.authInvalid, "not published yet");
    published.keys.push(keys.rotated.publicJwk);
    // AUTH_JWKS_COOLDOWN_SECONDS=1 here: the next unknown kid after 1 s refetches.
    await new Promise((r) => setTimeout(r, 1200));
    const c = await connectClient(jwks.url, NAMESPACE.calls, { auth: { token } });
    assert.equal(c.socket.connected, true);
  });

  it("says auth_unavailable, not auth_invalid, when the JWKS cannot be fetched", async () => {
    const refused = await connectRefused(jwksDown.url, NAMESPACE.calls, { auth: { token: await idpToken("rsa") } });
    assert.equal(refused.code, CONNECT_ERROR_CODE.authUnavailable, refused.message);
    assert.equal((await fetch(`${jwksDown.url}/healthz`)).status, 200);
  });

  it("AUTH_MODE=none lets anyone in, into the public tenant, and says so in the log", async () => {
    const c = await connectClient(open.url, NAMESPACE.calls, { auth: {} });
    assert.deepEqual(await c.socket.emitWithAck(CLIENT_EVENT.join, { callId: "o1" }), { ok: true, room: callRoom(ANONYMOUS_TENANT, "o1") });
    assert.ok(open.output.some((l) => /AUTH_MODE=none: authentication is OFF/.test(l)));
  });

  it("refuses to start with auth on by default and no AUTH_SECRET (exit 2, naming both ways out)", () => {
    const env = { ...process.env, REDIS_MODE: "memory" } as Record<string, string | undefined>;
    delete env.AUTH_MODE;
    delete env.AUTH_SECRET;
    const out = spawnSync(process.execPath, ["--import", "tsx", GATEWAY_ENTRY], { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 20_000 });
    assert.equal(out.status, 2, out.stderr);
    assert.match(out.stderr, /AUTH_SECRET=\(unset\).*set AUTH_SECRET, or AUTH_MODE=none/);
    assert.equal(out.stderr.trim().split("\n").length, 1);
  });
});

function unsignedToken(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "mallory", tenant: DEV_TENANT, iss: DEV_ISSUER, aud: DEV_AUDIENCE, exp: now + 600 })}.`;
}
