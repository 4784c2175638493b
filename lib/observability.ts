import { Duration, Stack, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import type { Bus } from "./bus.js";
import type { SwitchboardConfig } from "./config.js";
import type { GatewayFleet } from "./gateway-fleet.js";

/** The connections-per-task alarm fires at this share of maxConnectionsPerTask. */
export const CONNECTIONS_ALARM_SHARE = 0.8;
/** CloudWatch caps a metric-math alarm at 10 metrics. */
export const MAX_METRICS_PER_ALARM = 10;

export interface ObservedFleet {
  readonly bus: Bus;
  readonly gateways: GatewayFleet;
  readonly targetGroup: elbv2.NetworkTargetGroup;
}

export interface ObservabilityProps {
  readonly config: SwitchboardConfig;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly cluster: ecs.ICluster;
  readonly fleets: readonly ObservedFleet[];
}

/** One ElastiCache node metric alarmed on every node of a replication group. */
interface BrokerCheck {
  readonly key: string;
  readonly metricName: string;
  readonly statistic: string;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly period: Duration;
  readonly meaning: string;
  readonly action: string;
}

const BROKER_CHECKS: readonly BrokerCheck[] = [
  {
    key: "engine-cpu",
    metricName: "EngineCPUUtilization",
    statistic: "Maximum",
    // The Redis/Valkey engine thread is single-threaded: 80% of it is close to saturation.
    threshold: 80,
    evaluationPeriods: 5,
    period: Duration.minutes(1),
    meaning: "the engine thread of a broker node is above 80% for 5 minutes: pub/sub delivery will slow down for every gateway on that shard",
    action: "add shards (context shards, in-place resharding) or move to a larger node type; check the dashboard for one hot shard (a hot room)",
  },
  {
    key: "memory",
    metricName: "DatabaseMemoryUsagePercentage",
    statistic: "Maximum",
    threshold: 80,
    evaluationPeriods: 5,
    period: Duration.minutes(1),
    meaning: "a broker node uses more than 80% of its memory: pub/sub output buffers of slow subscribers are growing, or something stores keys",
    action: "look for slow gateway subscribers (EventLoopLagP99) and client-output-buffer growth; scale the node type up if the data set is legitimate",
  },
  {
    key: "evictions",
    metricName: "Evictions",
    statistic: "Sum",
    // The adapter keeps almost nothing in memory: any eviction means memory pressure.
    threshold: 0,
    evaluationPeriods: 1,
    period: Duration.minutes(5),
    meaning: "a broker node evicted keys: it ran out of memory",
    action: "treat as a memory incident: find what stores data in the bus, scale the node type up",
  },
  {
    key: "connections",
    metricName: "CurrConnections",
    statistic: "Maximum",
    // maxclients is 65,000 on ElastiCache; each gateway task holds a few
    // connections per node, so 50,000 means a connection leak or a runaway fleet.
    threshold: 50000,
    evaluationPeriods: 5,
    period: Duration.minutes(1),
    meaning: "a broker node holds more than 50,000 client connections (limit 65,000)",
    action: "look for a gateway connection leak (reconnect loops in the gateway logs) or a fleet far above maxTasks",
  },
  {
    key: "replication-lag",
    metricName: "ReplicationLag",
    statistic: "Maximum",
    threshold: 1,
    evaluationPeriods: 5,
    period: Duration.minutes(1),
    meaning: "a replica is more than 1 s behind its primary for 5 minutes: a failover now would lose messages and subscribers on that replica see stale state",
    action: "check network allowance and engine CPU of the shard's primary; scale the node type if the primary is saturated",
  },
  {
    key: "bandwidth-out",
    metricName: "NetworkBandwidthOutAllowanceExceeded",
    statistic: "Sum",
    threshold: 0,
    evaluationPeriods: 3,
    period: Duration.minutes(1),
    meaning: "a broker node's outbound bandwidth exceeded its node type's allowance: packets are queued or dropped (pub/sub fan-out is outbound traffic)",
    action: "spread rooms over more shards or move to a node type with more network bandwidth",
  },
  {
    key: "pps",
    metricName: "NetworkPacketsPerSecondAllowanceExceeded",
    statistic: "Sum",
    threshold: 0,
    evaluationPeriods: 3,
    period: Duration.minutes(1),
    meaning: "a broker node exceeded its packets-per-second allowance: packets are queued or dropped",
    action: "batch small messages in the gateway, add shards or move to a larger node type",
  },
];

/**
 * Alarms and the dashboard of every fleet, plus the load balancer's.
 *
 * Broker alarms: ElastiCache metrics exist per node (CacheClusterId
 * `<rg>-0001-001`). Metrics Insights could aggregate them in one query, but its
 * WHERE supports only =, != and AND (no OR, no LIKE), so it cannot select "the
 * nodes of this replication group" without account-wide resource-tag telemetry.
 * So each alarm is a metric-math MAX over explicit node ids, packed by whole
 * shards into groups of at most 10 metrics (the math-alarm limit): 3 shards x 2
 * nodes = 1 alarm per check; 8 shards x 3 nodes = 3 alarms per check.
 * CloudWatch bills per metric in an alarm, so the cost is nodes x checks x
 * $0.10/month either way (24 nodes x 7 checks = ~$17/month).
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;

  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config } = props;
    this.prefix = Stack.of(this).stackName;

    if (config.alarmEmail) {
      this.topic = new sns.Topic(this, "AlarmTopic", { displayName: `${this.prefix} alarms`, enforceSSL: true });
      this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
      Validations.of(this.topic).acknowledge({
        id: "AwsSolutions-SNS2",
        reason:
          "Alarm notifications carry alarm names and metric values, no customer data. CloudWatch cannot publish to a topic encrypted with the AWS-managed aws/sns key, and a customer-managed key for this alone is not worth its cost.",
      });
    }

    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: this.prefix,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard = dashboard;

    for (const f of props.fleets) this.observeFleet(props, f);

    // --- load balancer-wide ---------------------------------------------------
    const lb = props.loadBalancer;
    this.alarm("nlb-target-resets", {
      metric: lb.metrics.tcpTargetResetCount({ period: Duration.minutes(1), statistic: "Sum" }),
      threshold: 100,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description:
        "Gateways reset more than 100 TCP connections a minute for 5 minutes. A gateway closes sockets with a WebSocket close, so resets mean tasks crash or get killed before draining (OOM, SIGKILL after stopTimeout). Action: check stopped-task reasons in ECS and the gateway logs; check memory alarms.",
    });
    this.alarm("nlb-elb-resets", {
      metric: lb.metrics.tcpElbResetCount({ period: Duration.minutes(1), statistic: "Sum" }),
      threshold: 1000,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description:
        "The NLB itself resets more than 1,000 connections a minute for 5 minutes: flows idle beyond the 350 s TCP idle timeout (heartbeats not flowing) or sent to targets that are gone. Action: check that PING_INTERVAL_MS is below 350 s on every gateway, and for unhealthy targets.",
    });

    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "NLB resets per minute",
        left: [
          lb.metrics.tcpTargetResetCount({ period: Duration.minutes(1), statistic: "Sum", label: "target resets" }),
          lb.metrics.tcpElbResetCount({ period: Duration.minutes(1), statistic: "Sum", label: "NLB resets" }),
        ],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: this.alarms, width: 12, height: Math.min(12, 2 + Math.ceil(this.alarms.length / 3)) }),
    );
  }

  private observeFleet(props: ObservabilityProps, f: ObservedFleet): void {
    const { config } = props;
    const g = f.gateways;
    const name = g.fleet.name;
    const custom = (metricName: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({
        namespace: config.metricsNamespace,
        metricName,
        dimensionsMap: { ServiceName: g.metricsServiceName },
        statistic,
        period: Duration.minutes(1),
        label,
      });

    // --- connections -------------------------------------------------------------
    const ceiling = Math.floor(config.maxConnectionsPerTask * CONNECTIONS_ALARM_SHARE);
    this.alarm(`${name}-connections-per-task`, {
      // Maximum, not Average: the NLB hashes flows, so one task can run hot
      // while the average (which drives autoscaling) looks fine.
      metric: custom("ConnectedClients", "Maximum"),
      threshold: ceiling,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description: `Fleet ${name}: a gateway task holds more than ${ceiling} connections (${CONNECTIONS_ALARM_SHARE * 100}% of maxConnectionsPerTask=${config.maxConnectionsPerTask}) for 3 minutes; past the ceiling it rejects or slows down. Action: check that autoscaling is not pinned at maxTasks=${g.fleet.maxTasks} (raise it) and that targetConnectionsPerTask=${config.targetConnectionsPerTask} leaves headroom.`,
    });

    // --- service -------------------------------------------------------------------
    this.alarm(`${name}-task-cpu`, {
      metric: g.service.metricCpuUtilization({ period: Duration.minutes(1), statistic: "Average" }),
      threshold: 80,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description: `Fleet ${name}: gateway tasks average above 80% CPU for 5 minutes. Node.js runs one event loop per task, so latency climbs before 100%. Action: the CPU step policy should be adding tasks; if pinned at maxTasks raise it, else look for expensive handlers (EventLoopLagP99).`,
    });
    this.alarm(`${name}-task-memory`, {
      metric: g.service.metricMemoryUtilization({ period: Duration.minutes(1), statistic: "Maximum" }),
      threshold: 80,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description: `Fleet ${name}: a gateway task is above 80% memory for 5 minutes; at 100% it is OOM-killed and every socket on it drops at once. Action: lower targetConnectionsPerTask or raise taskMemoryMiB; look for leaking per-socket state.`,
    });
    const insights = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: "ECS/ContainerInsights",
        metricName,
        dimensionsMap: { ClusterName: props.cluster.clusterName, ServiceName: g.service.serviceName },
        statistic: "Average",
        period: Duration.minutes(1),
      });
    this.alarm(`${name}-running-below-desired`, {
      metric: new cloudwatch.MathExpression({
        expression: "desired - running",
        usingMetrics: { desired: insights("DesiredTaskCount"), running: insights("RunningTaskCount") },
        label: "tasks missing",
        period: Duration.minutes(1),
      }),
      threshold: 1,
      // A new task takes 2-3 minutes to pull, start and pass health checks;
      // 10 minutes short means tasks fail to start (image, secrets, capacity).
      evaluationPeriods: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `Fleet ${name}: fewer tasks running than desired for 10 minutes (Container Insights). Action: read the stopped tasks' reasons in the ECS console (image pull, secret access, Fargate capacity, failing /readyz).`,
    });

    // --- load balancer -------------------------------------------------------------
    this.alarm(`${name}-unhealthy-hosts`, {
      metric: f.targetGroup.metrics.unHealthyHostCount({ period: Duration.minutes(1), statistic: "Maximum" }),
      threshold: 0,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      description: `Fleet ${name}: a target fails /readyz for 3 minutes (draining targets are not counted). /readyz is 503 when the gateway cannot reach Redis. Action: check the broker alarms and the task's logs; a task that never becomes ready is replaced by the circuit breaker on deploy.`,
    });
    this.alarm(`${name}-healthy-hosts-low`, {
      metric: f.targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: "Minimum" }),
      threshold: g.fleet.minTasks,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `Fleet ${name}: fewer than minTasks=${g.fleet.minTasks} healthy targets for 3 minutes: the fleet is below its floor and sockets pile on the survivors. Action: check the running-below-desired and unhealthy-hosts alarms, the broker and the stopped tasks' reasons.`,
    });

    // --- broker ----------------------------------------------------------------------
    const brokerAlarms = BROKER_CHECKS.flatMap((check) => this.brokerAlarms(f.bus, name, check));

    // --- dashboard -----------------------------------------------------------------
    const perShard = (metricName: string) =>
      f.bus.nodeIdsByShard.map(
        (nodes, s) =>
          new cloudwatch.MathExpression({
            expression: `MAX([${nodes.map((_, i) => `s${s}n${i}`).join(",")}])`,
            usingMetrics: Object.fromEntries(nodes.map((node, i) => [`s${s}n${i}`, this.nodeMetric(node, metricName, "Maximum", Duration.minutes(1))])),
            label: f.bus.mode === "cluster" ? `shard ${String(s + 1).padStart(4, "0")}` : "primary+replicas",
            period: Duration.minutes(1),
          }),
      );
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({ markdown: `## Fleet \`${name}\` — ${g.fleet.namespaces.join(", ")} — port ${g.fleet.port}`, width: 24, height: 1 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: connections per task`,
        left: [custom("ConnectedClients", "Average", "average per task"), custom("ConnectedClients", "Maximum", "busiest task")],
        leftAnnotations: [
          { value: config.targetConnectionsPerTask, label: "scaling target" },
          { value: ceiling, label: "alarm", color: cloudwatch.Color.RED },
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: connections in total`,
        left: [custom("ConnectedClients", "Sum", "connections")],
        right: [insights("RunningTaskCount").with({ label: "running tasks" })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: new connections per minute`,
        left: [custom("NewConnections", "Sum", "new"), custom("RejectedConnections", "Sum", "rejected")],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: broker engine CPU per shard (max of its nodes)`,
        left: perShard("EngineCPUUtilization"),
        leftYAxis: { min: 0, max: 100 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: broker memory per shard (max of its nodes)`,
        left: perShard("DatabaseMemoryUsagePercentage"),
        leftYAxis: { min: 0, max: 100 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: delivery latency and event-loop lag (p99, ms)`,
        left: [custom("DeliveryLatencyP99", "Maximum", "delivery p99 (worst task)"), custom("EventLoopLagP99", "Maximum", "event-loop lag p99 (worst task)")],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: targets`,
        left: [
          f.targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: "Minimum", label: "healthy" }),
          f.targetGroup.metrics.unHealthyHostCount({ period: Duration.minutes(1), statistic: "Maximum", label: "unhealthy" }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: task CPU and memory (%)`,
        left: [
          g.service.metricCpuUtilization({ period: Duration.minutes(1), label: "CPU" }),
          g.service.metricMemoryUtilization({ period: Duration.minutes(1), label: "memory" }),
        ],
        leftYAxis: { min: 0, max: 100 },
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: `${name}: broker alarms`, alarms: brokerAlarms, width: 8 }),
    );
  }

  private nodeMetric(cacheClusterId: string, metricName: string, statistic: string, period: Duration): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: "AWS/ElastiCache",
      metricName,
      // Redis/Valkey node metrics carry both dimensions; a cluster-mode node
      // group member is a one-node "cache cluster", so its CacheNodeId is 0001.
      dimensionsMap: { CacheClusterId: cacheClusterId, CacheNodeId: "0001" },
      statistic,
      period,
    });
  }

  /** One alarm per group of whole shards holding at most 10 node metrics. */
  private brokerAlarms(bus: Bus, fleetName: string, check: BrokerCheck): cloudwatch.Alarm[] {
    const shardsPerAlarm = Math.max(1, Math.floor(MAX_METRICS_PER_ALARM / bus.nodeIdsByShard[0]!.length));
    const groups: string[][] = [];
    for (let s = 0; s < bus.nodeIdsByShard.length; s += shardsPerAlarm) {
      groups.push(bus.nodeIdsByShard.slice(s, s + shardsPerAlarm).flat());
    }
    return groups.map((nodes, i) => {
      const first = nodes[0]!;
      const last = nodes[nodes.length - 1]!;
      const suffix = groups.length > 1 ? `-${i + 1}` : "";
      return this.alarm(`${fleetName}-broker-${check.key}${suffix}`, {
        metric: new cloudwatch.MathExpression({
          expression: `MAX([${nodes.map((_, j) => `n${j}`).join(",")}])`,
          usingMetrics: Object.fromEntries(nodes.map((node, j) => [`n${j}`, this.nodeMetric(node, check.metricName, check.statistic, check.period)])),
          label: `max ${check.metricName}`,
          period: check.period,
        }),
        threshold: check.threshold,
        evaluationPeriods: check.evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        description: `Fleet ${fleetName}, replication group ${bus.replicationGroupId} (nodes ${first} .. ${last}): ${check.meaning}. Action: ${check.action}.`,
      });
    });
  }

  private alarm(
    name: string,
    o: {
      metric: cloudwatch.IMetric;
      threshold: number;
      evaluationPeriods: number;
      comparisonOperator: cloudwatch.ComparisonOperator;
      description: string;
      treatMissingData?: cloudwatch.TreatMissingData;
    },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, name, {
      alarmName: `${this.prefix}-${name}`,
      alarmDescription: o.description,
      metric: o.metric,
      threshold: o.threshold,
      evaluationPeriods: o.evaluationPeriods,
      datapointsToAlarm: o.evaluationPeriods,
      comparisonOperator: o.comparisonOperator,
      // No data = no sockets / no traffic, not an incident (except where said).
      treatMissingData: o.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (this.topic) {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
    }
    this.alarms.push(alarm);
    return alarm;
  }
}
