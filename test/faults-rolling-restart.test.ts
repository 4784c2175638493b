/** A deploy (faults/rolling-restart.ts): one gateway drains while calls carry traffic through the balancer. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { rollingRestart } from "../faults/rolling-restart.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: rolling restart", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology(FAULT_TOPOLOGY);
  });
  after(async () => {
    await topo?.stop();
  });

  it("clients move, rejoin and miss only what was sent while they were away", async () => {
    const report = await rollingRestart.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
