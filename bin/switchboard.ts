#!/usr/bin/env node
import { App } from "aws-cdk-lib";
import { ConfigError, parseConfig } from "../lib/config.js";
import { enableAwsSolutionsChecks } from "../lib/compliance.js";
import { createSwitchboardStack } from "../lib/switchboard-stack.js";

const app = new App();
let config;
try {
  // Read once, parse once: everything below gets typed values.
  config = parseConfig(app.node.getAllContext() as Record<string, unknown>, process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`\nSwitchboard: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
createSwitchboardStack(app, "Switchboard", config);
enableAwsSolutionsChecks(app);
app.synth();
