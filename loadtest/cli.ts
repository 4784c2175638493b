/**
 * `npm run loadtest -- --url http://127.0.0.1:3000 --scenario idle --connections 20000 --rate 1000 --hold 60`
 *
 * Options (all bounded; the run stops by itself):
 *   --url URL[,URL...]     balancer, NLB DNS name, or gateways (round robin over them)
 *   --scenario idle|fanout|churn
 *   --connections N        idle/fanout: connections; churn: concurrent loops
 *   --rate N               new connections per second (total)
 *   --hold S               idle: seconds to hold once all are open
 *   --duration S           fanout: seconds of sending; churn: seconds of looping
 *   --room-size N          members per call (idle 4, fanout 10)
 *   --message-rate N|max   fanout: messages per second in total, or ack-paced saturation
 *   --window N             fanout max: messages in flight per sender (4)
 *   --payload-bytes N      fanout: filler bytes per message (64)
 *   --cycles N             churn: cycles per loop at most (1000)
 *   --workers N            worker processes (default: from the open-files limit)
 *   --token T | --token-file F | --token-secret S | --token-secret-file F
 *                          authentication: one token, or mint HS256 per connection
 *   --token-issuer I --token-audience A --tenant T --tenant-claim C   claims of minted tokens
 *                          (the gateway's AUTH_ISSUER, AUTH_AUDIENCE, AUTH_TENANT_CLAIM; tenant default "loadtest")
 *   --source-addresses off do not spread loopback connections over 127.0.0.x
 *   --tls-skip-hostname true  wss:// targets: verify the certificate chain, not the host name
 *                          (a stack's NLB DNS name behind a certificate for your domain)
 *   --out DIR              report directory (default loadtest-reports; "" for none)
 *   --label TEXT
 *
 * Exits 0 when every connection opened and held and nothing was lost or
 * refused; 1 (with the reasons on stderr) when the run failed; 2 on bad options.
 */
import { parseArgs } from "node:util";
import { runLoadtest } from "./fleet.js";
import { OptionError, parseLoadtestOptions } from "./options.js";
import { formatTable, loadtestFailures, summaryRows, writeReport } from "./report.js";

const names = ["url", "scenario", "namespace", "connections", "rate", "hold", "duration", "room-size", "message-rate", "window", "payload-bytes", "cycles", "workers", "token", "token-file", "token-secret", "token-secret-file", "token-issuer", "token-audience", "tenant", "tenant-claim", "source-addresses", "tls-skip-hostname", "connect-timeout-ms", "ack-timeout-ms", "drain", "out", "label"];

let options;
try {
  const { values } = parseArgs({ options: Object.fromEntries(names.map((k) => [k, { type: "string" as const }])), strict: true });
  options = parseLoadtestOptions(values as Record<string, string | undefined>);
} catch (err) {
  const message = err instanceof OptionError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? (err as Error).message : String(err);
  process.stderr.write(`npm run loadtest: ${message}\n`);
  process.exit(2);
}

const result = await runLoadtest(options, { progress: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`\n${formatTable(summaryRows(result))}\n`);
if (options.out) {
  const files = writeReport(result, options.out);
  process.stdout.write(`\nreport: ${files.json}\n        ${files.html}\n`);
}
const failures = loadtestFailures(result);
if (failures.length > 0) {
  process.stderr.write(`npm run loadtest: FAILED: ${failures.join("; ")}\n`);
  process.exit(1);
}
