/** Fault 2 (faults/reshard.ts): a busy room's slot moves to another primary. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { reshard } from "../faults/reshard.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: live resharding", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology(FAULT_TOPOLOGY);
  });
  after(async () => {
    await topo?.stop();
  });

  it("subscriptions follow the slot and nothing sent after the move is lost", async () => {
    const report = await reshard.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
