import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { NLB_TCP_IDLE_TIMEOUT_SECONDS } from "./config.js";

const ACCESS_LOG_PREFIX = "nlb";

export interface SocketLoadBalancerProps {
  readonly vpc: ec2.IVpc;
  /** With a certificate every listener terminates TLS; NLB access logs only exist for TLS listeners, so they are on then. */
  readonly certificateArn?: string;
}

export interface FleetListenerProps {
  readonly port: number;
  readonly service: ecs.FargateService;
  readonly containerName: string;
  readonly containerPort: number;
  readonly deregistrationDelay: Duration;
}

/** What one fleet gets from the load balancer. */
export interface FleetListener {
  readonly listener: elbv2.NetworkListener;
  readonly targetGroup: elbv2.NetworkTargetGroup;
}

/**
 * The public entry: one internet-facing Network Load Balancer, its security
 * group, and one listener per fleet. Layer 4, no stickiness: Socket.IO clients
 * connect with the websocket transport straight away, and any gateway can take
 * any socket because rooms live in the broker, not in the task.
 */
export class SocketLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly securityGroup: ec2.SecurityGroup;
  readonly accessLogBucket?: s3.Bucket;
  readonly certificateArn?: string;

  constructor(scope: Construct, id: string, props: SocketLoadBalancerProps) {
    super(scope, id);
    this.certificateArn = props.certificateArn;
    // An NLB can only get security groups at creation, so it has one from the start.
    this.securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", {
      vpc: props.vpc,
      description: "Switchboard NLB: listener ports from the internet, gateway port to the tasks",
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, "Nlb", {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [this.securityGroup],
      // Flow hashing happens per AZ node; cross-zone spreads the sockets over
      // every task instead of piling them on the tasks of the busiest AZ.
      crossZoneEnabled: true,
    });
    Validations.of(this.securityGroup).acknowledge({
      id: "AwsSolutions-EC23",
      reason:
        "Public Socket.IO endpoint: browsers and apps connect from anywhere. Only the listener ports are open (one per fleet), egress only to the gateway port of the tasks.",
    });
    if (props.certificateArn) {
      this.accessLogBucket = new s3.Bucket(this, "AccessLogs", {
        // NLB access logs support SSE-S3 only (not SSE-KMS with a default key).
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        lifecycleRules: [{ expiration: Duration.days(90) }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // Wired by hand rather than with logAccessLogs(): that one needs a
      // concrete region (for the classic ELB log-delivery accounts), which an
      // env-agnostic stack does not have. NLB access logs are delivered by the
      // log delivery service principal in every region.
      const bucket = this.accessLogBucket;
      const account = Stack.of(this).account;
      bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal("delivery.logs.amazonaws.com")],
          actions: ["s3:PutObject"],
          resources: [bucket.arnForObjects(`${ACCESS_LOG_PREFIX}/AWSLogs/${account}/*`)],
          conditions: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account } },
        }),
      );
      bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal("delivery.logs.amazonaws.com")],
          actions: ["s3:GetBucketAcl"],
          resources: [bucket.bucketArn],
          conditions: { StringEquals: { "aws:SourceAccount": account } },
        }),
      );
      this.loadBalancer.setAttribute("access_logs.s3.enabled", "true");
      this.loadBalancer.setAttribute("access_logs.s3.bucket", bucket.bucketName);
      this.loadBalancer.setAttribute("access_logs.s3.prefix", ACCESS_LOG_PREFIX);
      // ELB checks write access when the attribute is set.
      if (bucket.policy) this.loadBalancer.node.addDependency(bucket.policy);
      Validations.of(this.accessLogBucket).acknowledge({
        id: "AwsSolutions-S1",
        reason: "This bucket is itself the NLB access-log destination; logging its accesses to another bucket would only log the log delivery.",
      });
    } else {
      Validations.of(this.loadBalancer).acknowledge({
        id: "AwsSolutions-ELB2",
        reason:
          "An NLB writes access logs only for TLS listeners; without certificateArn every listener is TCP, so there is nothing to log. VPC flow logs record the connections. With certificateArn access logs are on.",
      });
    }
  }

  /** One listener port -> one target group -> one fleet's service. */
  addFleetListener(id: string, props: FleetListenerProps): FleetListener {
    const tls = this.certificateArn !== undefined;
    const listener = this.loadBalancer.addListener(`${id}Listener`, {
      port: props.port,
      protocol: tls ? elbv2.Protocol.TLS : elbv2.Protocol.TCP,
      ...(tls
        ? {
            certificates: [elbv2.ListenerCertificate.fromArn(this.certificateArn!)],
            sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
          }
        : {}),
      // Set explicitly so the number the gateway's PING_INTERVAL_MS is checked
      // against (config.ts) is the one deployed: the NLB drops a flow idle for
      // 350 s, and the gateway pings every 25 s by default.
      tcpIdleTimeout: Duration.seconds(NLB_TCP_IDLE_TIMEOUT_SECONDS),
    });
    const targetGroup = new elbv2.NetworkTargetGroup(this, `${id}Targets`, {
      vpc: this.loadBalancer.vpc,
      port: props.containerPort,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      // The gateway sees the real client address (rate limits, logs).
      preserveClientIp: true,
      // A stopping task gets no new sockets during this delay, then ECS sends
      // SIGTERM and the gateway drains; shorter than DRAIN_SECONDS (config.ts).
      deregistrationDelay: props.deregistrationDelay,
      // Off: at the end of the delay the NLB must not cut live WebSockets; the
      // gateway closes them itself, in batches, so clients reconnect gradually.
      connectionTermination: false,
      healthCheck: {
        protocol: elbv2.Protocol.HTTP,
        path: "/readyz",
        // /readyz turns 503 when the task drains or loses Redis. 2 x 10 s
        // takes a sick task out within ~20 s without flapping on one slow probe;
        // 2 healthy probes put a new task in service ~20 s after it is ready.
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
        healthyHttpCodes: "200",
      },
      targets: [props.service.loadBalancerTarget({ containerName: props.containerName, containerPort: props.containerPort })],
    });
    // Explicit, not implied: a socket may land on any task (rooms live in the broker).
    targetGroup.setAttribute("stickiness.enabled", "false");
    listener.addAction(`${id}Forward`, { action: elbv2.NetworkListenerAction.forward([targetGroup]) });

    this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(props.port), `${id}: clients`);
    // Only the NLB reaches the gateway port (client IPs are preserved, but
    // traffic through an NLB with security groups is matched on the NLB's group).
    props.service.connections.allowFrom(this.securityGroup, ec2.Port.tcp(props.containerPort), "from the NLB only");
    return { listener, targetGroup };
  }
}
