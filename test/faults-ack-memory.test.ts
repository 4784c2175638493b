/** Fault 6 (faults/ack-memory.ts): acknowledged broadcasts to members that never acknowledge. */
import { ackMemory } from "../faults/ack-memory.js";
import { FAULT_TOPOLOGY } from "../faults/scenario.js";
import { describeFault } from "./support/fault-test.js";

// Two gateways suffice: the members' and the sender's.
describeFault("fault: receipts never acknowledged", "the heap of the members' gateway settles", ackMemory, { ...FAULT_TOPOLOGY, gateways: 2, primaries: 3, replicasPerPrimary: 0 });
