/**
 * `npm run chaos`: every fault scenario of faults/ against one fresh local
 * topology (3 primaries with 1 replica each, 3 gateways), one after the
 * other, then a table: fault, gap, sent, delivered, lost, bounds.
 * Exits 1 if any stated bound was not met.
 *
 *   npm run chaos                 # all scenarios
 *   npm run chaos -- --only reshard,stall
 */
import { parseArgs } from "node:util";
import { startTopology, type Topology } from "../topology/index.js";
import { FAULT_TOPOLOGY, SCENARIOS, formatReport, formatTable, type FaultReport } from "../faults/index.js";
import { waitFleetHealthy } from "../faults/fleet.js";

const { values } = parseArgs({ options: { only: { type: "string" } } });
const only = values.only?.split(",").map((s) => s.trim().toLowerCase());
const chosen = only ? SCENARIOS.filter((s) => only.some((o) => s.name.toLowerCase().includes(o))) : SCENARIOS;
if (chosen.length === 0) {
  console.error(`npm run chaos: no scenario matches --only ${values.only}; scenarios: ${SCENARIOS.map((s) => s.name).join("; ")}`);
  process.exit(2);
}

let topo: Topology | undefined;
const stop = async (code: number) => {
  await topo?.stop();
  process.exit(code);
};
process.on("SIGINT", () => void stop(130));

const reports: FaultReport[] = [];
try {
  console.log("starting a fresh topology: 3 primaries + 3 replicas, 3 gateways");
  topo = await startTopology({ ...FAULT_TOPOLOGY, onProgress: (l) => console.log(`  ${l}`) });
  for (const scenario of chosen) {
    console.log(`\n== ${scenario.name}`);
    const started = Date.now();
    try {
      const report = await scenario.run({ topo, log: (l) => console.log(`  ${l}`) });
      reports.push(report);
      console.log(formatReport(report));
    } catch (err) {
      console.log(`  scenario failed to run: ${(err as Error).stack}`);
      reports.push({ fault: scenario.name, gapMs: undefined, sent: 0, delivered: 0, lost: 0, notes: [], bounds: [{ what: "ran", measured: (err as Error).message, limit: "completes", ok: false }] });
    }
    console.log(`  (${Math.round((Date.now() - started) / 1000)} s)`);
    await waitFleetHealthy(topo).catch((err) => console.log(`  fleet not healthy after ${scenario.name}: ${(err as Error).message}`));
  }
} finally {
  console.log(`\n${formatTable(reports)}`);
}
await stop(reports.every((r) => r.bounds.every((b) => b.ok)) ? 0 : 1);
