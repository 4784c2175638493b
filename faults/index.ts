/** Every fault scenario, in the order `npm run chaos` runs them (the most destructive last). */
import { ackMemory } from "./ack-memory.js";
import { gatewayStall } from "./gateway-stall.js";
import { primaryFailover } from "./primary-failover.js";
import { pubsubKill } from "./pubsub-kill.js";
import { redisDown } from "./redis-down.js";
import { reshard } from "./reshard.js";
import { rollingRestart } from "./rolling-restart.js";
import type { FaultScenario } from "./scenario.js";

export const SCENARIOS: FaultScenario[] = [rollingRestart, pubsubKill, reshard, gatewayStall, ackMemory, primaryFailover, redisDown];
export * from "./scenario.js";
