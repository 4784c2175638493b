/** Fault 3 (faults/redis-down.ts): Redis is unreachable altogether, then returns. */
import { redisDown } from "../faults/redis-down.js";
import { describeFault } from "./support/fault-test.js";

describeFault("fault: Redis unreachable", "degrades to local delivery with fast error acks, and recovers without a restart", redisDown);
