/** Fault 6 (faults/ack-memory.ts): acknowledged broadcasts to members that never acknowledge. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { ackMemory } from "../faults/ack-memory.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: receipts never acknowledged", () => {
  let topo: Topology;
  before(async () => {
    // Two gateways suffice: the members' and the sender's.
    topo = await startTopology({ ...FAULT_TOPOLOGY, gateways: 2, primaries: 3, replicasPerPrimary: 0 });
  });
  after(async () => {
    await topo?.stop();
  });

  it("the heap of the members' gateway settles", async () => {
    const report = await ackMemory.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
