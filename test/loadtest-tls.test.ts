/**
 * The load generator against a TLS listener reached by a name its
 * certificate does not carry, as the stack's own load-generator tasks reach
 * its NLB behind a certificate for your domain: refused by default, accepted
 * with `tlsSkipHostname` (LOADGEN_TLS_SKIP_HOSTNAME), which still verifies
 * the chain. Certificates come from openssl into a temporary directory; the
 * server is a real Socket.IO server over HTTPS on loopback.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Server } from "socket.io";
import { runLoadtest } from "../loadtest/fleet.js";
import { parseLoadtestOptions } from "../loadtest/options.js";

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** A CA, and a leaf it signs for `gateway.example` only (not 127.0.0.1). */
function makeCertificates(dir: string): { ca: string; key: Buffer; cert: Buffer } {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Switchboard test CA");
  openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=gateway.example");
  openssl(dir, "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", join(dir, "san.cnf"));
  return { ca: join(dir, "ca.pem"), key: readFileSync(join(dir, "leaf.key")), cert: readFileSync(join(dir, "leaf.pem")) };
}

describe("load generator over TLS to a name the certificate does not carry", () => {
  let dir = "";
  let https: HttpsServer;
  let io: Server;
  let url = "";
  let ca = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "switchboard-tls-"));
    execFileSync("sh", ["-c", "printf 'subjectAltName=DNS:gateway.example\\n' > san.cnf"], { cwd: dir });
    const certs = makeCertificates(dir);
    ca = certs.ca;
    https = createServer({ key: certs.key, cert: certs.cert });
    io = new Server(https, { transports: ["websocket"], serveClient: false });
    io.of("/calls").on("connection", (socket) => socket.on("join", (_req: unknown, ack: (a: unknown) => void) => ack({ ok: true })));
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  });
  after(async () => {
    await io.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a short idle load test; the workers inherit NODE_EXTRA_CA_CERTS as set here. */
  async function run(o: { trustCa: boolean; skipHostname: boolean }) {
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    if (o.trustCa) process.env.NODE_EXTRA_CA_CERTS = ca;
    else delete process.env.NODE_EXTRA_CA_CERTS;
    try {
      return await runLoadtest(
        parseLoadtestOptions({
          url,
          scenario: "idle",
          connections: "20",
          rate: "200",
          hold: "1",
          "room-size": "4",
          workers: "1",
          "source-addresses": "off",
          "connect-timeout-ms": "5000",
          "tls-skip-hostname": String(o.skipHostname),
          out: "",
        }),
      );
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
  }

  it("refuses by default: the certificate names gateway.example, not 127.0.0.1", async () => {
    const r = await run({ trustCa: true, skipHostname: false });
    assert.equal(r.connections.reached, 0);
    assert.deepEqual(Object.keys(r.errors), ["ERR_TLS_CERT_ALTNAME_INVALID"]);
  });

  it("connects with tls-skip-hostname, the chain still verified", async () => {
    const r = await run({ trustCa: true, skipHostname: true });
    assert.equal(r.connections.reached, 20);
    assert.deepEqual(r.errors, {});
  });

  it("still refuses a certificate from an untrusted CA with tls-skip-hostname", async () => {
    const r = await run({ trustCa: false, skipHostname: true });
    assert.equal(r.connections.reached, 0);
    assert.ok(Object.keys(r.errors).every((k) => /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/.test(k)), JSON.stringify(r.errors));
  });

  it("rejects a value other than true or false", () => {
    assert.throws(() => parseLoadtestOptions({ url, "tls-skip-hostname": "yes" }), /--tls-skip-hostname "yes": expected true or false/);
  });
});
