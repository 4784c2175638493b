import * as fs from "node:fs";
import * as path from "node:path";
import { Duration, IgnoreMode, RemovalPolicy, Size, Validations } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { Bus } from "./bus.js";
import { STOP_TIMEOUT_SECONDS, type FleetConfig, type SwitchboardConfig } from "./config.js";

/** The repository root: the Docker build context of the gateway image. */
export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
/** Container port of the gateway (PORT): Socket.IO, /healthz, /readyz and /metrics. */
export const GATEWAY_PORT = 3000;
export const CONTAINER_NAME = "gateway";

/**
 * What stays out of the image build context. Docker only reads a .dockerignore
 * at the context root, and the context is the repository root, so the list in
 * gateway/.dockerignore is applied here, when CDK stages the asset.
 */
export function imageExcludes(): string[] {
  const file = path.join(REPO_ROOT, "gateway", ".dockerignore");
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
  const fromFile = lines.map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  // Never-ship entries, even if the file is edited away.
  return [...new Set([...fromFile, "node_modules", "cdk.out", ".git", "**/node_modules"])];
}

/**
 * File descriptors per task: one per socket plus Redis, logs and slack. Fargate's
 * default soft limit (1024 on some platform versions) would cap a task at ~1000
 * sockets, so the limit is raised explicitly to twice the per-task ceiling.
 */
export function nofileLimit(maxConnectionsPerTask: number): number {
  return Math.min(1048576, Math.max(65536, maxConnectionsPerTask * 2));
}

/**
 * The gateways' per-IP connect limit. The NLB preserves client IPs, and a
 * load-generator task is one public IP opening `loadgenRate` connections a
 * second: while loadgenTasks > 0 the limit is raised to let that through
 * (a configured 0, no limit, stays 0), and it returns to the configured
 * values when loadgenTasks goes back to 0.
 */
export function connectLimitPerIp(config: SwitchboardConfig): { CONNECT_RATE_PER_IP: string; CONNECT_BURST_PER_IP: string } {
  let rate = config.connectRatePerIp;
  let burst = config.connectBurstPerIp;
  if (config.loadgenTasks > 0 && rate > 0) {
    rate = Math.max(rate, config.loadgenRate);
    burst = Math.max(burst, 2 * config.loadgenRate);
  }
  return { CONNECT_RATE_PER_IP: String(rate), CONNECT_BURST_PER_IP: String(burst) };
}

/**
 * awslogs in non-blocking mode: a CloudWatch Logs hiccup must not block
 * stdout and with it the event loop that carries every socket of the task.
 */
export function nonBlockingLogs(logGroup: logs.ILogGroup, streamPrefix: string): ecs.LogDriver {
  return ecs.LogDrivers.awsLogs({
    logGroup,
    streamPrefix,
    mode: ecs.AwsLogDriverMode.NON_BLOCKING,
    maxBufferSize: Size.mebibytes(25),
  });
}

export interface GatewayFleetProps {
  readonly cluster: ecs.ICluster;
  readonly subnets: ec2.SubnetSelection;
  readonly fleet: FleetConfig;
  readonly config: SwitchboardConfig;
  readonly bus: Bus;
  /** SERVICE_NAME: the `ServiceName` dimension of the gateway's custom metrics. */
  readonly metricsServiceName: string;
  /** HS256 signing secret (AUTH_SECRET), when authMode=hs256. */
  readonly authSecret?: secretsmanager.ISecret;
  /** Credential of POST /v1/publish (PUBLISH_SECRET). */
  readonly publishSecret: secretsmanager.ISecret;
}

/**
 * One fleet of Socket.IO gateways: task definition, Fargate service, its
 * security group and its autoscaling. It reaches its own broker only.
 */
export class GatewayFleet extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  /** The gateway image (one Docker asset; the load generator runs the same image). */
  readonly image: ecs.ContainerImage;
  readonly service: ecs.FargateService;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;
  readonly scaling: ecs.ScalableTaskCount;
  readonly fleet: FleetConfig;
  readonly metricsServiceName: string;
  /** ConnectedClients, Average over the tasks = connections per task. */
  readonly connectionsPerTask: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: GatewayFleetProps) {
    super(scope, id);
    const { config, fleet, bus } = props;
    this.fleet = fleet;
    this.metricsServiceName = props.metricsServiceName;
    const arm = config.cpuArchitecture === "arm64";

    this.taskDefinition = new ecs.FargateTaskDefinition(this, "Task", {
      cpu: config.taskCpu,
      memoryLimitMiB: config.taskMemoryMiB,
      runtimePlatform: {
        cpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    // The gateway publishes its own metrics; PutMetricData has no resource-level
    // permissions, so the grant is scoped by namespace instead.
    this.taskDefinition.addToTaskRolePolicy(
      new iam.PolicyStatement({
        actions: ["cloudwatch:PutMetricData"],
        resources: ["*"],
        conditions: { StringEquals: { "cloudwatch:namespace": config.metricsNamespace } },
      }),
    );

    Validations.of(this.taskDefinition.taskRole).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "cloudwatch:PutMetricData supports no resource-level permission; the statement is limited to the gateway's namespace by the cloudwatch:namespace condition.",
    });

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const environment: Record<string, string> = {
      PORT: String(GATEWAY_PORT),
      REDIS_MODE: bus.mode,
      // Cluster mode: the configuration endpoint is the seed, the client
      // discovers the shards. Single mode: the primary endpoint.
      REDIS_NODES: `${bus.endpointAddress}:${bus.endpointPort}`,
      REDIS_TLS: "true",
      NAMESPACES: fleet.namespaces.join(","),
      DRAIN_SECONDS: String(config.drainSeconds),
      // Well below the NLB's 350 s TCP idle timeout (validated in config.ts):
      // each ping is traffic, so an idle socket is never dropped by the NLB.
      PING_INTERVAL_MS: String(config.pingIntervalMs),
      PING_TIMEOUT_MS: String(config.pingTimeoutMs),
      CLOUDWATCH_NAMESPACE: config.metricsNamespace,
      SERVICE_NAME: props.metricsServiceName,
      AUTH_MODE: config.authMode,
      MAX_CONNECTIONS_PER_USER: String(config.maxConnectionsPerUser),
      ...connectLimitPerIp(config),
      LOG_LEVEL: config.logLevel,
    };
    if (config.authJwksUrl) environment.AUTH_JWKS_URL = config.authJwksUrl;
    if (config.authIssuer) environment.AUTH_ISSUER = config.authIssuer;
    if (config.authAudience) environment.AUTH_AUDIENCE = config.authAudience;
    if (config.allowedOrigins) environment.ALLOWED_ORIGINS = config.allowedOrigins;

    // Credentials reach the container as ECS secrets: the execution role reads
    // them at task start, the template only holds their ARNs.
    const secrets: Record<string, ecs.Secret> = {
      REDIS_AUTH: ecs.Secret.fromSecretsManager(bus.authToken),
      PUBLISH_SECRET: ecs.Secret.fromSecretsManager(props.publishSecret),
    };
    if (props.authSecret) secrets.AUTH_SECRET = ecs.Secret.fromSecretsManager(props.authSecret);

    const nofile = nofileLimit(config.maxConnectionsPerTask);
    this.image = ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: "gateway/Dockerfile",
      platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      exclude: imageExcludes(),
      // .dockerignore semantics: "lib" means the root lib/ only. The default
      // glob mode matches base names anywhere and would also drop gateway/src/lib.
      ignoreMode: IgnoreMode.DOCKER,
    });
    this.container = this.taskDefinition.addContainer(CONTAINER_NAME, {
      image: this.image,
      environment,
      secrets,
      portMappings: [{ containerPort: GATEWAY_PORT, protocol: ecs.Protocol.TCP }],
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: nofile, hardLimit: nofile }],
      // 120 s is Fargate's maximum: SIGTERM -> /readyz 503 -> grace ->
      // disconnects spread over DRAIN_SECONDS (< 120, validated) -> exit 0.
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      logging: nonBlockingLogs(this.logGroup, fleet.name),
      // No container HEALTHCHECK: the NLB probes /readyz.
    });

    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "The only wildcard is ecr:GetAuthorizationToken, which has no resource-level permission (the image pull itself is scoped to the CDK asset repository).",
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: "AwsSolutions-ECS2",
      reason: "The environment holds only non-secret settings (ports, endpoints, namespaces, timeouts); REDIS_AUTH, AUTH_SECRET and PUBLISH_SECRET come from Secrets Manager as ECS secrets.",
    });

    this.securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", {
      vpc: props.cluster.vpc,
      description: `Gateway tasks of fleet ${fleet.name}: gateway port from the NLB only`,
      // Egress to ECR, CloudWatch, Secrets Manager, the JWKS URL and the broker.
      allowAllOutbound: true,
    });

    this.service = new ecs.FargateService(this, "Service", {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: fleet.desiredCount,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      // Never fewer serving tasks than wanted during a deploy: a new task
      // starts before an old one drains its sockets.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      // Time for the image pull, the Redis connection and 2 healthy probes.
      healthCheckGracePeriod: Duration.seconds(60),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });

    // Only this fleet's gateways reach this fleet's broker.
    bus.connections.allowDefaultPortFrom(this.securityGroup, `gateway fleet ${fleet.name}`);

    this.connectionsPerTask = new cloudwatch.Metric({
      namespace: config.metricsNamespace,
      metricName: "ConnectedClients",
      dimensionsMap: { ServiceName: props.metricsServiceName },
      statistic: cloudwatch.Stats.AVERAGE,
      // The gateway publishes every 60 s.
      period: Duration.minutes(1),
    });

    this.scaling = this.service.autoScaleTaskCount({ minCapacity: fleet.minTasks, maxCapacity: fleet.maxTasks });
    this.scaling.scaleToTrackCustomMetric("ConnectionsPerTask", {
      metric: this.connectionsPerTask,
      targetValue: config.targetConnectionsPerTask,
      // Scaling out is cheap; scaling in stops a task and every one of its
      // sockets reconnects elsewhere, so wait 15 minutes of calm first.
      scaleOutCooldown: Duration.minutes(1),
      scaleInCooldown: Duration.minutes(15),
    });
    // Safety net when connections are cheap in count but expensive in CPU
    // (chatty rooms, big fan-out): step out on CPU, never in.
    this.scaling.scaleOnMetric("CpuSafetyNet", {
      metric: this.service.metricCpuUtilization({ period: Duration.minutes(1), statistic: cloudwatch.Stats.AVERAGE }),
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { lower: 70, change: +1 },
        { lower: 85, change: +3 },
      ],
      evaluationPeriods: 3,
      cooldown: Duration.minutes(2),
    });
  }
}
