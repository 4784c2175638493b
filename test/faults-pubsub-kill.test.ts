/** Fault 5 (faults/pubsub-kill.ts): Redis kills the subscriber connections. */
import { pubsubKill } from "../faults/pubsub-kill.js";
import { describeFault } from "./support/fault-test.js";

describeFault("fault: subscriber connections killed", "every gateway resubscribes all of its rooms", pubsubKill);
