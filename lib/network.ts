import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface NetworkProps {
  /** Import this VPC instead of creating one (Vpc.fromLookup: needs an env-specific stack). */
  readonly vpcId?: string;
  readonly maxAzs: number;
  readonly natGateways: number;
  readonly flowLogRetention: logs.RetentionDays;
}

/**
 * The VPC: public subnets for the NLB and NAT, private subnets with egress for
 * the gateway tasks (they pull the image and call CloudWatch/Secrets Manager),
 * isolated subnets for the broker (it never talks to the internet).
 */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  /** Where the gateway tasks run. */
  readonly taskSubnets: ec2.SubnetSelection;
  /** Where the ElastiCache nodes live. */
  readonly cacheSubnets: ec2.SubnetSelection;
  /** Flow logs of the VPC this stack created (none for an imported VPC: its owner decides). */
  readonly flowLog?: ec2.FlowLog;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.vpcId) {
      this.vpc = ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId });
      this.taskSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
      // Use isolated subnets for the broker when the existing VPC has them.
      this.cacheSubnets = {
        subnetType: this.vpc.isolatedSubnets.length > 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
      };
      return;
    }
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: props.maxAzs,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // /20 per AZ: room for thousands of Fargate ENIs (one per task).
        { name: "tasks", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: "cache", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    this.vpc = vpc;
    this.taskSubnets = { subnetGroupName: "tasks" };
    this.cacheSubnets = { subnetGroupName: "cache" };
    // Flow logs: the record of who talked to what when a connection storm or a
    // security question comes up; REJECT-only would hide the NLB->task flows.
    const logGroup = new logs.LogGroup(this, "FlowLogs", {
      retention: props.flowLogRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.flowLog = vpc.addFlowLog("FlowLog", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
  }
}
