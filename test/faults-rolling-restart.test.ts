/** A deploy (faults/rolling-restart.ts): one gateway drains while calls carry traffic through the balancer. */
import { rollingRestart } from "../faults/rolling-restart.js";
import { describeFault } from "./support/fault-test.js";

describeFault("fault: rolling restart", "clients move, rejoin and miss only what was sent while they were away", rollingRestart);
