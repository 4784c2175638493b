/**
 * `npm run plan -- --connections 100000 --message-rate 2000 --room-size 4`
 * `npm run plan -- --examples`   (100k, 500k and 1M connections)
 *
 * Measured inputs come from the newest full-scale bench/results/*.json
 * (`-small` smoke runs are skipped; `--results F` to choose one); override
 * the three that vary most with --rss-kb, --cpu-us-per-delivery,
 * --broker-us-per-publish. Prints the context parameters and the arithmetic,
 * and exits 2 when the stack would refuse them (lib/config.ts's limits).
 */
import { parseCommandArgs } from "../scripts/cli-args.js";
import { latestResultFile, measurementsFrom, type Measurements } from "./measurements.js";
import { planDeployment, stackRefusal, type Target } from "./plan.js";

const USAGE = "--connections N --message-rate N [--room-size N] [--results FILE] [--rss-kb N] [--cpu-us-per-delivery N] [--broker-us-per-publish N] | --examples";

function fail(message: string): never {
  process.stderr.write(`npm run plan: ${message}\n`);
  process.exit(2);
}

const values = parseCommandArgs(
  "plan",
  {
    connections: { type: "string" },
    "message-rate": { type: "string" },
    "room-size": { type: "string", default: "4" },
    results: { type: "string" },
    "rss-kb": { type: "string" },
    "cpu-us-per-delivery": { type: "string" },
    "broker-us-per-publish": { type: "string" },
    examples: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  USAGE,
);
if (values.help) {
  process.stdout.write(`npm run plan -- ${USAGE}\n`);
  process.exit(0);
}

function num(name: string, raw: string | undefined, min: number, whole = false): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || (whole && !Number.isInteger(v))) fail(`--${name} ${JSON.stringify(raw)}: expected a ${whole ? "whole number" : "number"} >= ${min}`);
  return v;
}

const file = values.results ?? latestResultFile();
if (!file) fail("no bench result found in bench/results/: run `npm run bench` first, or pass --results FILE");
let m: Measurements;
try {
  m = measurementsFrom(file);
} catch (err) {
  fail((err as Error).message);
}
m = {
  ...m,
  rssPerConnection: (num("rss-kb", values["rss-kb"], 0.1) ?? m.rssPerConnection / 1024) * 1024,
  cpuMicrosPerDelivery: num("cpu-us-per-delivery", values["cpu-us-per-delivery"], 0.1) ?? m.cpuMicrosPerDelivery,
  brokerMicrosPerPublish: num("broker-us-per-publish", values["broker-us-per-publish"], 0.1) ?? m.brokerMicrosPerPublish,
};

// Worked examples: calls of 4 (agent, caller, supervisor, recorder), each
// member sending about one event every 10 s (transcripts, status).
const targets: Target[] = values.examples
  ? [100_000, 500_000, 1_000_000].map((c) => ({ connections: c, messageRate: c / 10, roomSize: 4 }))
  : [
      {
        connections: num("connections", values.connections, 1, true) ?? fail("--connections N is required (or --examples)"),
        messageRate: num("message-rate", values["message-rate"], 0) ?? fail("--message-rate N (messages/s into rooms, whole fleet) is required"),
        roomSize: num("room-size", values["room-size"], 2, true)!,
      },
    ];

for (const t of targets) {
  const plan = planDeployment(t, m);
  process.stdout.write(`\n${plan.arithmetic.join("\n")}\n\n`);
  process.stdout.write(`context: ${Object.entries(plan.context).map(([k, v]) => `-c ${k}=${v}`).join(" ")}\n`);
  // The stack's own limits (lib/config.ts): a plan past them would fail at synth.
  const refusal = stackRefusal(plan);
  if (refusal) fail(`one stack cannot hold this plan: ${refusal} Split the target over several stacks, or over fleets (context \`fleets\`, each with its own tasks and replication group).`);
}
