import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import { Construct } from "constructs";
import type { SwitchboardConfig } from "./config.js";
import type { FleetResources } from "./switchboard-stack.js";

export interface ObservabilityProps {
  readonly config: SwitchboardConfig;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly cluster: ecs.ICluster;
  readonly fleets: readonly FleetResources[];
}

/** Alarms and the dashboard. */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    for (const f of props.fleets) {
      this.alarms.push(
        new cloudwatch.Alarm(this, `${f.gateways.fleet.name}ConnectionsPerTask`, {
          metric: f.gateways.connectionsPerTask.with({ statistic: "Maximum" }),
          threshold: Math.floor(props.config.maxConnectionsPerTask * 0.8),
          evaluationPeriods: 3,
          alarmDescription: "placeholder",
        }),
      );
    }
    void Duration;
  }
}
