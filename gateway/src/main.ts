/**
 * The gateway process: parse configuration (exit 2 on a bad value), start,
 * and drain on SIGTERM/SIGINT (see drain.ts), exiting 0.
 */
import { ConfigError, parseGatewayConfig } from "./config.js";
import { createDrain } from "./drain.js";
import { createLogger } from "./log.js";
import { createGateway } from "./server.js";

function loadConfig() {
  try {
    return parseGatewayConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard gateway: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const config = loadConfig();
const log = createLogger(config.logLevel, { gateway: config.gatewayId });

// A rejected promise from the Redis client or the adapter must not take down
// every connection on this process: log it and carry on.
process.on("unhandledRejection", (reason) => {
  log.error("unhandled promise rejection", { error: reason instanceof Error ? reason : String(reason) });
});

const gateway = createGateway(config, log);

const drain = createDrain(
  gateway,
  { graceMs: config.drainGraceSeconds * 1000, windowMs: config.drainSeconds * 1000 },
  log,
);
const stop = (signal: string) =>
  void drain.begin(signal).then(() => process.exit(0));
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

gateway.start().catch((err) => {
  log.error("failed to start", { error: err as Error });
  process.exit(1);
});
