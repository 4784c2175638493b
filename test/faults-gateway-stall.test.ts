/** Fault 4 (faults/gateway-stall.ts): a gateway stalls until Redis drops its subscriber. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { gatewayStall } from "../faults/gateway-stall.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: gateway stalled", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology(FAULT_TOPOLOGY);
  });
  after(async () => {
    await topo?.stop();
  });

  it("after SIGCONT it resubscribes and receives; others are unaffected", async () => {
    const report = await gatewayStall.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
