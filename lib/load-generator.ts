import { RemovalPolicy, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { SwitchboardConfig } from "./config.js";
import { nonBlockingLogs } from "./gateway-fleet.js";

/** Container name of the load generator. */
export const LOADGEN_CONTAINER_NAME = "loadgen";
/** Soft and hard: four workers of 15,000 sockets each, plus slack. */
export const LOADGEN_NOFILE = 65536;
/** After the summary the task stays up this long, so the service does not start the run again. */
export const LOADGEN_LINGER_SECONDS = 86400;

export interface LoadGeneratorProps {
  readonly cluster: ecs.ICluster;
  /** Public subnets: every task gets its own public IP (see the service below). */
  readonly subnets: ec2.SubnetSelection;
  readonly config: SwitchboardConfig;
  /** The gateway's image: the load generator is compiled into it (loadtest/dist/main.js). */
  readonly image: ecs.ContainerImage;
  /** Target, `http(s)://<NLB DNS name>:<listener port>`. */
  readonly url: string;
  /** Listener port the tasks connect to (their only egress besides HTTPS to AWS APIs). */
  readonly port: number;
  /** The gateway's AUTH_SECRET (authMode=hs256): the tasks mint tokens with it. */
  readonly authSecret?: secretsmanager.ISecret;
}

/**
 * `loadgenTasks=N`: N Fargate tasks running loadtest/main.ts from the gateway
 * image against the stack's own NLB. Each task writes one JSON summary line to
 * its log group, then lingers (docs/performance.md, "LOADGEN").
 */
export class LoadGenerator extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly service: ecs.FargateService;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LoadGeneratorProps) {
    super(scope, id);
    const { config } = props;

    this.taskDefinition = new ecs.FargateTaskDefinition(this, "Task", {
      cpu: 2048,
      memoryLimitMiB: 4096,
      runtimePlatform: {
        // The image is built for the gateway's architecture.
        cpuArchitecture: config.cpuArchitecture === "arm64" ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const environment: Record<string, string> = {
      LOADGEN_URL: props.url,
      LOADGEN_SCENARIO: config.loadgenScenario,
      LOADGEN_CONNECTIONS: String(config.loadgenConnections),
      LOADGEN_RATE: String(config.loadgenRate),
      LOADGEN_HOLD: String(config.loadgenHoldSeconds),
      // A service replaces a task that exits: linger after the summary instead
      // of starting the run again.
      LOADGEN_LINGER_SECONDS: String(LOADGEN_LINGER_SECONDS),
    };
    // With a certificate the listener speaks TLS for your domain, which the
    // NLB's own DNS name is not: verify the chain, not the name.
    if (props.url.startsWith("https:")) environment.LOADGEN_TLS_SKIP_HOSTNAME = "true";
    const secrets: Record<string, ecs.Secret> = {};
    if (props.authSecret) {
      // The same secret the gateways verify with; only its ARN is in the template.
      secrets.LOADGEN_TOKEN_SECRET = ecs.Secret.fromSecretsManager(props.authSecret);
      if (config.authIssuer) environment.LOADGEN_TOKEN_ISSUER = config.authIssuer;
      if (config.authAudience) environment.LOADGEN_TOKEN_AUDIENCE = config.authAudience;
    }

    this.container = this.taskDefinition.addContainer(LOADGEN_CONTAINER_NAME, {
      image: props.image,
      command: ["node", "loadtest/dist/main.js"],
      environment,
      secrets,
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: LOADGEN_NOFILE, hardLimit: LOADGEN_NOFILE }],
      logging: nonBlockingLogs(this.logGroup, "loadgen"),
    });

    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "The only wildcard is ecr:GetAuthorizationToken, which has no resource-level permission (the image pull itself is scoped to the CDK asset repository).",
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: "AwsSolutions-ECS2",
      reason: "The environment holds only non-secret test settings (target URL, scenario, counts, rates, token claims); the HS256 key LOADGEN_TOKEN_SECRET comes from Secrets Manager as an ECS secret.",
    });

    this.securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", {
      vpc: props.cluster.vpc,
      description: "Load generator tasks: no ingress; egress to the NLB listener and HTTPS (ECR, CloudWatch Logs, Secrets Manager)",
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(props.port), "the NLB listener, through its public address");
    if (props.port !== 443) {
      this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "ECR, CloudWatch Logs, Secrets Manager");
    }

    this.service = new ecs.FargateService(this, "Service", {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: config.loadgenTasks,
      // Public subnets, one public IP per task: through a NAT gateway every task
      // would share its source address. A NAT gateway carries at most 55,000
      // simultaneous connections to one destination (an NLB node), and the
      // gateway's per-IP connect limit (CONNECT_RATE_PER_IP) would refuse nearly
      // every connection coming from one address.
      vpcSubnets: props.subnets,
      assignPublicIp: true,
      securityGroups: [this.securityGroup],
      // A redeploy may stop the running test outright: nothing serves traffic here.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { enable: true, rollback: false },
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
  }
}
