/** Fault 1 (faults/primary-failover.ts): a primary dies and its replica takes over. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { primaryFailover } from "../faults/primary-failover.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: primary failover", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology(FAULT_TOPOLOGY);
  });
  after(async () => {
    await topo?.stop();
  });

  it("room broadcasts on the shard resume without a gateway restart", async () => {
    const report = await primaryFailover.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
