/** Fault 4 (faults/gateway-stall.ts): a gateway stalls until Redis drops its subscriber. */
import { gatewayStall } from "../faults/gateway-stall.js";
import { describeFault } from "./support/fault-test.js";

describeFault("fault: gateway stalled", "after SIGCONT it resubscribes and receives; others are unaffected", gatewayStall);
