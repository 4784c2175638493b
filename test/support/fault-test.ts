/**
 * One fault scenario (faults/) as a test: a fresh fault topology, the
 * scenario's run, its report printed, and every bound it states asserted.
 * Each test/faults-*.test.ts is this call with its own scenario.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FAULT_TOPOLOGY, formatReport, type FaultScenario } from "../../faults/scenario.js";
import { startTopology, type Topology, type TopologyOptions } from "../../topology/index.js";

export function describeFault(title: string, claim: string, scenario: FaultScenario, topology: TopologyOptions = FAULT_TOPOLOGY): void {
  describe(title, () => {
    let topo: Topology;
    before(async () => {
      topo = await startTopology(topology);
    });
    after(async () => {
      await topo?.stop();
    });

    it(claim, async () => {
      const report = await scenario.run({ topo, log: (l) => console.log(l) });
      console.log(formatReport(report));
      for (const b of report.bounds) assert.ok(b.ok, `${b.what}: ${b.measured}, bound ${b.limit}`);
    });
  });
}
