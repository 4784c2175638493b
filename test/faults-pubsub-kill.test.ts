/** Fault 5 (faults/pubsub-kill.ts): Redis kills the subscriber connections. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { pubsubKill } from "../faults/pubsub-kill.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: subscriber connections killed", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology(FAULT_TOPOLOGY);
  });
  after(async () => {
    await topo?.stop();
  });

  it("every gateway resubscribes all of its rooms", async () => {
    const report = await pubsubKill.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
