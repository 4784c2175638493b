/**
 * The load generator against real gateways on a real Redis cluster: its lean
 * Socket.IO client must connect, join, relay and count exactly, or every
 * figure the bench prints is wrong. Small counts; no timing assertions.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLoadtest } from "../loadtest/fleet.js";
import { parseLoadtestOptions, OptionError } from "../loadtest/options.js";
import { loadtestFailures } from "../loadtest/report.js";
import { spawnSync } from "node:child_process";
import { freePorts } from "../topology/index.js";
import { mintHs256 } from "../loadtest/token.js";
import { CONNECT_ERROR_CODE } from "../gateway/src/protocol.js";
import { DEV_AUDIENCE, DEV_AUTH_SECRET, DEV_ISSUER, startTopology, type Topology } from "../topology/index.js";

let topology: Topology;
let url: string;

before(async () => {
  topology = await startTopology({ gateways: 2, gatewayEnv: { LOG_LEVEL: "warn" } });
  url = topology.gateways.map((g) => g.url).join(",");
});
after(async () => {
  await topology?.stop();
});

// The topology's gateways verify HS256 tokens signed with this process's dev secret.
const auth = { "token-secret": DEV_AUTH_SECRET, "token-issuer": DEV_ISSUER, "token-audience": DEV_AUDIENCE };
const options = (o: Record<string, string>) => parseLoadtestOptions({ url, out: "", "connect-timeout-ms": "20000", "ack-timeout-ms": "20000", ...auth, ...o });

test("idle: every connection is opened, joined, held on both gateways, then closed", async () => {
  const r = await runLoadtest(options({ scenario: "idle", connections: "40", rate: "200", hold: "1", workers: "2" }));
  assert.deepEqual(r.errors, {});
  assert.equal(r.connections.reached, 40);
  assert.equal(r.connections.held, 40);
  assert.equal(r.connections.dropped, 0);
  // Round robin over the two targets.
  assert.deepEqual(Object.values(r.connections.byTarget).sort(), [20, 20]);
  assert.deepEqual(loadtestFailures(r), []);
});

test("fanout: every relayed event reaches every other member of its room, none lost", async () => {
  const r = await runLoadtest(options({ scenario: "fanout", connections: "40", rate: "200", "room-size": "4", "message-rate": "40", duration: "2", drain: "15" }));
  assert.deepEqual(r.errors, {});
  assert.ok(r.fanout!.sent > 0);
  assert.equal(r.fanout!.acked, r.fanout!.sent);
  assert.equal(r.fanout!.expected, r.fanout!.acked * 3, "each message is expected by the 3 other members");
  assert.equal(r.fanout!.deliveries, r.fanout!.expected);
  assert.equal(r.fanout!.lost, 0);
  assert.equal(r.latencyMs.count, r.fanout!.deliveries);
});

test("fanout: a gateway's refusal is counted by its error code, not as a loss", async () => {
  // Payload over the gateway's MAX_EVENT_DATA_BYTES (16 KiB): every send is refused.
  const r = await runLoadtest(options({ scenario: "fanout", connections: "8", rate: "100", "room-size": "4", "message-rate": "10", duration: "1", "payload-bytes": "20000", drain: "1" }));
  assert.ok(r.fanout!.sent > 0);
  assert.equal(r.fanout!.refused, r.fanout!.sent);
  assert.equal(r.errors["refused:data_too_large"], r.fanout!.sent);
  assert.equal(r.fanout!.expected, 0);
  assert.equal(r.fanout!.lost, 0);
});

test("churn: connect, join, leave, disconnect loops stop at their cycle bound", async () => {
  const r = await runLoadtest(options({ scenario: "churn", connections: "4", rate: "100", duration: "60", cycles: "3" }));
  assert.deepEqual(r.errors, {});
  assert.equal(r.churn!.cycles, 12);
});

test("authentication: a token signed with the wrong secret is counted as a refused connect, by the gateway's code, not a crash", async () => {
  const r = await runLoadtest(options({ scenario: "idle", connections: "5", rate: "50", hold: "0", "token-secret": "not-the-gateways-secret-but-32-bytes-long" }));
  assert.equal(r.connections.reached, 0);
  // The gateway's code says why (here the signature), so a run with the wrong
  // claims or secret tells its user what to fix.
  assert.deepEqual(r.errors, { [`connect_refused:${CONNECT_ERROR_CODE.authInvalid}`]: 5 });
  assert.deepEqual(loadtestFailures(r), ["5 of 5 connections not opened", "errors: connect_refused:auth_invalid 5"]);
});

test("the command exits 1 and says why when the run failed, so scripts and CI can tell", async () => {
  const [closed] = await freePorts(1);
  const cli = spawnSync(process.execPath, ["--import", "tsx", "loadtest/cli.ts", "--url", `http://127.0.0.1:${closed}`, "--connections", "3", "--hold", "0", "--out", ""], { encoding: "utf8", timeout: 60_000 });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stderr, /^npm run loadtest: FAILED: 3 of 3 connections not opened; errors: ECONNREFUSED 3$/m);
  // Nothing open: no hold to wait through.
  assert.doesNotMatch(cli.stdout, /holding 0 connections/);
});

test("options: bad values are refused with the flag and what was expected", () => {
  assert.throws(() => parseLoadtestOptions({ url: "ftp://x" }), (e: Error) => e instanceof OptionError && /--url "ftp:\/\/x": expected http/.test(e.message));
  assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", scenario: "storm" }), /--scenario "storm": expected one of idle, fanout, churn/);
  assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", connections: "-5" }), /--connections "-5": expected an integer/);
  assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", token: "a", "token-secret": "b" }), /give one, not both/);
  assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", scenario: "fanout", "message-rate": "MAX" }), /--message-rate "MAX": expected an integer from 1 to 10000000 or "max"/);
  assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", "source-addresses": "yes" }), /--source-addresses "yes": expected auto, on or off/);
  assert.equal(parseLoadtestOptions({ url: "http://127.0.0.1:1", "source-addresses": "off" }).sourceAddresses, false);
});

test("options: --token-secret-file reads the secret (trimmed) and names the file when it cannot", () => {
  const dir = mkdtempSync(join(tmpdir(), "loadtest-secret-"));
  try {
    const file = join(dir, "dev-secret");
    writeFileSync(file, "a-secret-of-at-least-32-bytes-long-for-hs256\n");
    assert.equal(parseLoadtestOptions({ url: "http://127.0.0.1:1", "token-secret-file": file }).tokenSecret, "a-secret-of-at-least-32-bytes-long-for-hs256");
    const missing = join(dir, "absent");
    assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", "token-secret-file": missing }), (e: Error) => e instanceof OptionError && e.message === `--token-secret-file ${JSON.stringify(missing)}: expected a readable file (ENOENT)`);
    writeFileSync(file, " \n");
    assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", "token-secret-file": file }), /--token-secret-file ".*": the file is empty/);
    assert.throws(() => parseLoadtestOptions({ url: "http://127.0.0.1:1", "token-secret": "x", "token-secret-file": file }), /give one, not both/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("token: HS256 minted with node:crypto matches the reference token", () => {
  // The well-known example token from RFC 7519 tooling (jwt.io), secret "your-256-bit-secret".
  const token = mintHs256("your-256-bit-secret", { sub: "1234567890", name: "John Doe", iat: 1516239022 });
  assert.equal(token, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
  const [h, p, sig] = token.split(".");
  assert.equal(createHmac("sha256", "other").update(`${h}.${p}`).digest("base64url") === sig, false);
});
