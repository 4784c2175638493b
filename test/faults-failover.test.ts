/** Fault 1 (faults/primary-failover.ts): a primary dies and its replica takes over. */
import { primaryFailover } from "../faults/primary-failover.js";
import { describeFault } from "./support/fault-test.js";

describeFault("fault: primary failover", "room broadcasts on the shard resume without a gateway restart", primaryFailover);
