import { CfnOutput, Duration, Stack, Validations, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import type * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { Bus } from "./bus.js";
import type { SwitchboardConfig } from "./config.js";
import { GatewayFleet, CONTAINER_NAME, GATEWAY_PORT } from "./gateway-fleet.js";
import { SocketLoadBalancer } from "./load-balancer.js";
import { LoadGenerator } from "./load-generator.js";
import { Network } from "./network.js";
import { Observability } from "./observability.js";

export interface SwitchboardStackProps extends StackProps {
  readonly config: SwitchboardConfig;
}

/** Everything one fleet is made of. */
export interface FleetResources {
  readonly bus: Bus;
  readonly gateways: GatewayFleet;
  readonly targetGroup: elbv2.NetworkTargetGroup;
  readonly listener: elbv2.NetworkListener;
}

/**
 * clients --TCP/TLS--> NLB --(one listener per fleet)--> Fargate gateways --TLS+AUTH--> ElastiCache bus
 */
export class SwitchboardStack extends Stack {
  readonly network: Network;
  readonly loadBalancer: SocketLoadBalancer;
  readonly cluster: ecs.Cluster;
  readonly fleets: readonly FleetResources[];
  readonly observability: Observability;
  /** Only with loadgenTasks > 0. */
  readonly loadGenerator?: LoadGenerator;

  constructor(scope: Construct, id: string, props: SwitchboardStackProps) {
    super(scope, id, props);
    const config = props.config;

    this.network = new Network(this, "Network", {
      vpcId: config.vpcId,
      maxAzs: config.maxAzs,
      natGateways: config.natGateways,
      flowLogRetention: config.logRetentionDays as logs.RetentionDays,
    });

    this.loadBalancer = new SocketLoadBalancer(this, "LoadBalancer", {
      vpc: this.network.vpc,
      certificateArn: config.certificateArn,
    });

    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc: this.network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    // Shared by every fleet: a client token valid on /calls is valid on /dashboard.
    const authSecret =
      config.authMode === "hs256"
        ? new secretsmanager.Secret(this, "AuthSecret", {
            description: "AUTH_SECRET: HS256 key the gateways verify client JWTs with",
            generateSecretString: { passwordLength: 64, excludePunctuation: true },
          })
        : undefined;
    const publishSecret = new secretsmanager.Secret(this, "PublishSecret", {
      description: "PUBLISH_SECRET: service credential of POST /v1/publish",
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    if (authSecret) {
      Validations.of(authSecret).acknowledge({
        id: "AwsSolutions-SMG4",
        reason:
          "Rotating the HS256 key invalidates every token the issuer already signed; it must be coordinated with the token issuer (which needs the same key), so it is a manual runbook, not a scheduled rotation.",
      });
    }
    Validations.of(publishSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The publish credential is shared with the backend services calling POST /v1/publish; a scheduled rotation would break them until they re-read it. Rotated by runbook with the callers.",
    });

    const prefix = this.stackName.toLowerCase().replace(/[^a-z0-9-]/g, "-");
    this.fleets = config.fleetList.map((fleet) => {
      const id = fleet.name.charAt(0).toUpperCase() + fleet.name.slice(1);
      const bus = new Bus(this, `${id}Bus`, {
        vpc: this.network.vpc,
        subnets: this.network.cacheSubnets,
        replicationGroupId: `${prefix}-${fleet.name}`,
        mode: config.redisMode,
        shards: fleet.shards,
        replicasPerShard: fleet.replicasPerShard,
        engine: config.cacheEngine,
        engineVersion: config.cacheEngineVersionResolved,
        nodeType: config.cacheNodeType,
        description: `Socket.IO bus of fleet ${fleet.name} (${fleet.namespaces.join(", ")})`,
      });
      const gateways = new GatewayFleet(this, `${id}Fleet`, {
        cluster: this.cluster,
        subnets: this.network.taskSubnets,
        fleet,
        config,
        bus,
        metricsServiceName: `${prefix}-${fleet.name}`,
        authSecret,
        publishSecret,
      });
      const { listener, targetGroup } = this.loadBalancer.addFleetListener(id, {
        port: fleet.port,
        service: gateways.service,
        containerName: CONTAINER_NAME,
        containerPort: GATEWAY_PORT,
        deregistrationDelay: Duration.seconds(config.deregistrationDelaySeconds),
      });
      new CfnOutput(this, `${id}Endpoint`, {
        description: `Socket.IO endpoint of fleet ${fleet.name} (${fleet.namespaces.join(", ")})`,
        value: `${config.certificateArn ? "https" : "http"}://${this.loadBalancer.loadBalancer.loadBalancerDnsName}:${fleet.port}`,
      });
      return { bus, gateways, listener, targetGroup };
    });

    if (config.loadgenTasks > 0) {
      // Against the first fleet's listener, the way clients connect.
      const target = this.fleets[0]!;
      const port = target.gateways.fleet.port;
      this.loadGenerator = new LoadGenerator(this, "LoadGenerator", {
        cluster: this.cluster,
        subnets: { subnetType: ec2.SubnetType.PUBLIC },
        config,
        image: target.gateways.image,
        url: `${config.certificateArn ? "https" : "http"}://${this.loadBalancer.loadBalancer.loadBalancerDnsName}:${port}`,
        port,
        authSecret,
      });
      new CfnOutput(this, "LoadGeneratorLogGroup", {
        description: "Log group of the load generator: query `filter msg = \"loadtest summary\"` (docs/performance.md)",
        value: this.loadGenerator.logGroup.logGroupName,
      });
    }

    this.observability = new Observability(this, "Observability", {
      config,
      loadBalancer: this.loadBalancer.loadBalancer,
      cluster: this.cluster,
      fleets: this.fleets,
    });
  }
}

/** The one factory bin/ and the tests call. */
export function createSwitchboardStack(scope: Construct, id: string, config: SwitchboardConfig): SwitchboardStack {
  return new SwitchboardStack(scope, id, {
    config,
    env: config.env,
    description: "Switchboard: Socket.IO on an NLB, a Fargate gateway fleet and a sharded ElastiCache bus",
  });
}
