/** Fault 2 (faults/reshard.ts): a busy room's slot moves to another primary. */
import { reshard } from "../faults/reshard.js";
import { describeFault } from "./support/fault-test.js";

describeFault("fault: live resharding", "subscriptions follow the slot and nothing sent after the move is lost", reshard);
