/**
 * CloudWatch from the gateway: the real AWS SDK in real gateway processes,
 * pointed (CLOUDWATCH_ENDPOINT) at local recording endpoints, one per
 * gateway so each request is attributable. Intervals are 1 s here; waits are
 * bounded at 20 s (many intervals on a loaded 2-core machine).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freePorts, startTopology, type GatewayProcess, type Topology } from "../topology/index.js";
import { CLIENT_EVENT, NAMESPACE } from "../gateway/src/protocol.js";
import { closeAllClients, connectClient, nextEvent, sleep } from "./support/clients.js";
import { startCloudWatchRecorder, type CloudWatchRecorder, type RecordedPut } from "./support/cloudwatch-recorder.js";
import { waitFor } from "./support/prometheus.js";

const NAMESPACE_CW = "Switchboard/Test";
const METRICS = ["ConnectedClients", "NewConnections", "RejectedConnections", "EventLoopLagP99"];
const UNITS: Record<string, string> = {
  ConnectedClients: "Count",
  NewConnections: "Count",
  RejectedConnections: "Count",
  DeliveryLatencyP99: "Milliseconds",
  EventLoopLagP99: "Milliseconds",
};

function cloudwatchEnv(recorder: CloudWatchRecorder, serviceName: string): Record<string, string> {
  return {
    CLOUDWATCH_NAMESPACE: NAMESPACE_CW,
    SERVICE_NAME: serviceName,
    CLOUDWATCH_INTERVAL_SECONDS: "1",
    CLOUDWATCH_ENDPOINT: recorder.url,
    AWS_REGION: "eu-west-3",
    // Static fake credentials: the SDK's chain stops at the environment and
    // never looks for instance metadata (a non-loopback address).
    AWS_ACCESS_KEY_ID: "AKIDSWITCHBOARDTEST",
    AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** Value of one metric in one request, or undefined when the request does not carry it. */
function valueOf(put: RecordedPut, metric: string): number | undefined {
  return put.MetricData.find((d) => d.MetricName === metric)?.Value;
}

describe("CloudWatch custom metrics from the gateway", () => {
  let topo: Topology;
  let recorderA: CloudWatchRecorder;
  let recorderB: CloudWatchRecorder;
  let gwA: GatewayProcess;
  let gwB: GatewayProcess;
  let gwOff: GatewayProcess;

  before(async () => {
    recorderA = await startCloudWatchRecorder();
    recorderB = await startCloudWatchRecorder();
    topo = await startTopology({ gateways: 0 });
    const [pa, pb, pc] = await freePorts(3);
    gwA = await topo.startGateway(pa, cloudwatchEnv(recorderA, "switchboard-a"));
    gwB = await topo.startGateway(pb, cloudwatchEnv(recorderB, "switchboard-b"));
    // No CLOUDWATCH_NAMESPACE (the default), with a short interval to show the "off" line is not repeated.
    gwOff = await topo.startGateway(pc, { CLOUDWATCH_INTERVAL_SECONDS: "1" });
  });
  after(async () => {
    closeAllClients();
    await topo?.stop();
    await recorderA?.close();
    await recorderB?.close();
  });

  it("publishes one signed, batched PutMetricData per interval with the task's figures under the namespace and ServiceName", async () => {
    const members = await Promise.all([1, 2, 3].map(() => connectClient(gwA.url, NAMESPACE.calls)));
    const sender = await connectClient(gwB.url, NAMESPACE.calls);
    for (const m of [...members, sender]) await m.socket.emitWithAck(CLIENT_EVENT.join, { callId: "cw" });
    for (let i = 0; i < 5; i++) {
      const arrived = nextEvent(members[0].socket, "call:event");
      assert.deepEqual(await sender.socket.emitWithAck(CLIENT_EVENT.callEvent, { callId: "cw", type: "status", data: i }), { ok: true });
      await arrived;
    }

    // A: wait for a request that shows the 3 members and the deliveries from B.
    await waitFor(
      async () => recorderA.puts.some((p) => valueOf(p, "ConnectedClients") === 3 && valueOf(p, "DeliveryLatencyP99") !== undefined),
      () => `requests to A's recorder: ${JSON.stringify(recorderA.puts.map((p) => p.MetricData.map((d) => [d.MetricName, d.Value])))}`,
      20_000,
    );
    await waitFor(async () => recorderB.puts.some((p) => valueOf(p, "ConnectedClients") === 1), () => `B: ${JSON.stringify(recorderB.puts)}`, 20_000);

    for (const [recorder, service] of [[recorderA, "switchboard-a"], [recorderB, "switchboard-b"]] as const) {
      assert.ok(recorder.puts.length > 0);
      for (const put of recorder.puts) {
        assert.equal(put.answered, 200, "every request decoded as PutMetricData");
        assert.equal(put.target, "GraniteServiceVersion20100801.PutMetricData");
        assert.match(put.authorization ?? "", /^AWS4-HMAC-SHA256 Credential=AKIDSWITCHBOARDTEST\/\d{8}\/eu-west-3\/monitoring\/aws4_request/);
        assert.equal(put.Namespace, NAMESPACE_CW);
        // One interval, one call, each metric once.
        const names = put.MetricData.map((d) => d.MetricName);
        assert.deepEqual(names.filter((n) => n !== "DeliveryLatencyP99"), METRICS);
        for (const d of put.MetricData) {
          assert.deepEqual(d.Dimensions, [{ Name: "ServiceName", Value: service }]);
          assert.equal(d.Unit, UNITS[d.MetricName], d.MetricName);
          assert.ok(Number.isFinite(d.Value) && d.Value >= 0, `${d.MetricName} = ${d.Value}`);
          assert.ok(Math.abs(d.Timestamp * 1000 - Date.now()) < 120_000, `timestamp ${d.Timestamp} is now-ish (epoch seconds)`);
        }
      }
    }
    // New connections are counted once each, in the interval they happened.
    const newOnA = recorderA.puts.reduce((sum, p) => sum + (valueOf(p, "NewConnections") ?? 0), 0);
    assert.equal(newOnA, 3);
    assert.equal(recorderB.puts.reduce((sum, p) => sum + (valueOf(p, "NewConnections") ?? 0), 0), 1);
    assert.ok(recorderA.puts.every((p) => valueOf(p, "RejectedConnections") === 0));
    // B receives no event from another gateway (it only sends): no latency samples, so the figure is omitted, not 0.
    assert.ok(recorderB.puts.every((p) => valueOf(p, "DeliveryLatencyP99") === undefined));
    const latency = recorderA.puts.map((p) => valueOf(p, "DeliveryLatencyP99")).filter((v) => v !== undefined);
    assert.ok(latency.every((ms) => ms! >= 0 && ms! < 60_000), `delivery p99s ${latency}`);

    members[0].socket.close();
    await waitFor(async () => valueOf(recorderA.puts.at(-1)!, "ConnectedClients") === 2, () => "ConnectedClients after a disconnect", 20_000);
  });

  it("is off by default and says so once", async () => {
    await sleep(2500); // more than two 1 s intervals
    const lines = gwOff.output.filter((l) => l.includes("cloudwatch"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /cloudwatch metrics off: CLOUDWATCH_NAMESPACE is not set/);
  });

  it("logs a failing call (HTTP 500), keeps serving, and sends the failed interval's figures with the next call", async () => {
    const before = recorderA.puts.length;
    recorderA.failNext(2);
    await waitFor(async () => recorderA.puts.length >= before + 3, () => `${recorderA.puts.length - before} requests since failNext`, 20_000);
    const failed = recorderA.puts.slice(before, before + 2);
    assert.ok(failed.every((p) => p.answered === 500));
    const warnings = gwA.output.filter((l) => l.includes("cloudwatch publish failed"));
    assert.ok(warnings.length >= 2, `two failures logged:\n${gwA.output.slice(-10).join("\n")}`);
    assert.match(warnings[0], /"status":500/);

    // Each call carries the unsent data before it (original timestamps) and then its own interval's.
    const retried = recorderA.puts[before + 2];
    assert.equal(retried.answered, 200);
    const stamps = (put: RecordedPut) => put.MetricData.filter((d) => d.MetricName === "ConnectedClients").map((d) => d.Timestamp);
    const [first, second, third] = [stamps(failed[0]), stamps(failed[1]), stamps(retried)];
    assert.deepEqual(second.slice(0, first.length), first, "the 2nd failed call resent the 1st one's data");
    assert.deepEqual(third.slice(0, second.length), second, "the successful call resent both failed calls' data");
    assert.ok(third.length > second.length && second.length > first.length, `stamps ${JSON.stringify({ first, second, third })}`);
    assert.deepEqual(retried.MetricData.slice(0, failed[1].MetricData.length), failed[1].MetricData);

    // The gateway kept serving throughout.
    assert.equal((await gwA.readyz()).status, 200);
    const late = await connectClient(gwA.url, NAMESPACE.calls);
    assert.deepEqual(await late.socket.emitWithAck(CLIENT_EVENT.join, { callId: "after-failures" }), { ok: true, room: "call:acme:after-failures" });
  });
});
