/** Fault 3 (faults/redis-down.ts): Redis is unreachable altogether, then returns. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTopology, type Topology } from "../topology/index.js";
import { redisDown } from "../faults/redis-down.js";
import { FAULT_TOPOLOGY, formatReport } from "../faults/scenario.js";

describe("fault: Redis unreachable", () => {
  let topo: Topology;
  before(async () => {
    topo = await startTopology(FAULT_TOPOLOGY);
  });
  after(async () => {
    await topo?.stop();
  });

  it("degrades to local delivery with fast error acks, and recovers without a restart", async () => {
    const report = await redisDown.run({ topo, log: (l) => console.log(l) });
    console.log(formatReport(report));
    for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
  });
});
