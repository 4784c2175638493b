/**
 * The default stack (no context): one fleet, NLB on TCP 80, 3 shards x 1 replica.
 * One synthesis shared by every assertion.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { IgnoreStrategy } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import { AUTH_TOKEN_EXCLUDED_CHARACTERS, BUS_PORT } from "../lib/bus.js";
import { REPO_ROOT, imageExcludes } from "../lib/gateway-fleet.js";
import { alarmNamed, alarmNames, resourcesOf, synthesize } from "./stack/synthesize.js";

const s = synthesize();
const { template, json } = s;

const only = (type: string) => {
  const r = resourcesOf(json, type);
  assert.equal(r.length, 1, `expected one ${type}, found ${r.length}`);
  return r[0]!;
};
const [taskDefId, taskDef] = only("AWS::ECS::TaskDefinition");
const container = taskDef.Properties.ContainerDefinitions[0];
const env = Object.fromEntries((container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
const [lbId] = only("AWS::ElasticLoadBalancingV2::LoadBalancer");
const [tgId, tg] = only("AWS::ElasticLoadBalancingV2::TargetGroup");
const [rgId, rg] = only("AWS::ElastiCache::ReplicationGroup");
const [serviceId, service] = only("AWS::ECS::Service");
const attr = (list: { Key: string; Value: string }[], key: string) => list.find((a) => a.Key === key)?.Value;
const sgOf = (logicalIdPrefix: string) => {
  const found = resourcesOf(json, "AWS::EC2::SecurityGroup").find(([id]) => id.startsWith(logicalIdPrefix));
  assert.ok(found, `no security group ${logicalIdPrefix}*`);
  return found;
};
const [lbSgId] = sgOf("LoadBalancerSecurityGroup");
const [taskSgId, taskSg] = sgOf("GatewayFleetSecurityGroup");
const [busSgId, busSg] = sgOf("GatewayBusSecurityGroup");

describe("default stack: skeleton (issue 2)", () => {
  it("has a load balancer, a Fargate service, a 3-shard replication group and alarms", () => {
    template.resourceCountIs("AWS::ElasticLoadBalancingV2::LoadBalancer", 1);
    template.hasResourceProperties("AWS::ECS::Service", { LaunchType: "FARGATE", DesiredCount: 2 });
    assert.equal(rg.Properties.NumNodeGroups, 3);
    assert.equal(rg.Properties.ReplicasPerNodeGroup, 1);
    assert.ok(resourcesOf(json, "AWS::CloudWatch::Alarm").length >= 1);
  });
  it("passes cdk-nag AwsSolutions with no unacknowledged finding", () => {
    assert.deepEqual(s.nagFindings, []);
  });
});

describe("default stack: network load balancer", () => {
  it("is internet-facing, has its own security group, cross-zone on", () => {
    const lb = json.Resources[lbId];
    assert.equal(lb.Properties.Type, "network");
    assert.equal(lb.Properties.Scheme, "internet-facing");
    assert.deepEqual(lb.Properties.SecurityGroups, [{ "Fn::GetAtt": [lbSgId, "GroupId"] }]);
    assert.equal(attr(lb.Properties.LoadBalancerAttributes, "load_balancing.cross_zone.enabled"), "true");
  });
  it("listens on TCP 80 only, with the 350 s idle timeout set explicitly", () => {
    const listeners = resourcesOf(json, "AWS::ElasticLoadBalancingV2::Listener").map(([, l]) => l.Properties);
    assert.equal(listeners.length, 1);
    assert.equal(listeners[0].Port, 80);
    assert.equal(listeners[0].Protocol, "TCP");
    assert.deepEqual(listeners[0].DefaultActions, [{ Type: "forward", TargetGroupArn: { Ref: tgId } }]);
    assert.equal(attr(listeners[0].ListenerAttributes, "tcp.idle_timeout.seconds"), "350");
  });
  it("target group: IP targets on 3000, no stickiness, client IP preserved, deregistration 30 s without cutting sockets", () => {
    const p = tg.Properties;
    assert.equal(p.TargetType, "ip");
    assert.equal(p.Port, 3000);
    assert.equal(attr(p.TargetGroupAttributes, "stickiness.enabled"), "false");
    assert.equal(attr(p.TargetGroupAttributes, "preserve_client_ip.enabled"), "true");
    assert.equal(attr(p.TargetGroupAttributes, "deregistration_delay.timeout_seconds"), "30");
    assert.equal(attr(p.TargetGroupAttributes, "deregistration_delay.connection_termination.enabled"), "false");
    assert.ok(Number(attr(p.TargetGroupAttributes, "deregistration_delay.timeout_seconds")) < Number(env.DRAIN_SECONDS));
  });
  it("health check: HTTP /readyz every 10 s, 2 to go healthy, 2 to go unhealthy", () => {
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", {
      HealthCheckProtocol: "HTTP",
      HealthCheckPath: "/readyz",
      HealthCheckIntervalSeconds: 10,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: "200" },
    });
  });
  it("the NLB security group admits the listener port from anywhere and talks only to the task port", () => {
    const lbSg = json.Resources[lbSgId].Properties;
    assert.deepEqual(
      lbSg.SecurityGroupIngress.map((r: any) => [r.CidrIp, r.FromPort, r.ToPort]),
      [["0.0.0.0/0", 80, 80]],
    );
    template.hasResourceProperties("AWS::EC2::SecurityGroupEgress", {
      GroupId: { "Fn::GetAtt": [lbSgId, "GroupId"] },
      DestinationSecurityGroupId: { "Fn::GetAtt": [taskSgId, "GroupId"] },
      FromPort: 3000,
      ToPort: 3000,
    });
  });
  it("the tasks admit the gateway port from the NLB's security group only", () => {
    assert.equal(taskSg.Properties.SecurityGroupIngress, undefined, "no inline (CIDR) ingress on the task group");
    const ingress = resourcesOf(json, "AWS::EC2::SecurityGroupIngress")
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(taskSgId));
    assert.deepEqual(
      ingress.map((p) => [p.SourceSecurityGroupId, p.FromPort, p.ToPort]),
      [[{ "Fn::GetAtt": [lbSgId, "GroupId"] }, 3000, 3000]],
    );
  });
  it("the service is attached to the target group (built explicitly, no ecs_patterns)", () => {
    assert.deepEqual(service.Properties.LoadBalancers, [{ ContainerName: "gateway", ContainerPort: 3000, TargetGroupArn: { Ref: tgId } }]);
    const tree = JSON.stringify(s.stack.node.findAll().map((c) => c.constructor.name));
    assert.ok(!tree.includes("NetworkLoadBalancedFargateService"));
  });
});

describe("default stack: Fargate fleet", () => {
  it("task: 1 vCPU, 2 GiB, linux x86_64", () => {
    assert.equal(taskDef.Properties.Cpu, "1024");
    assert.equal(taskDef.Properties.Memory, "2048");
    assert.deepEqual(taskDef.Properties.RuntimePlatform, { CpuArchitecture: "X86_64", OperatingSystemFamily: "LINUX" });
  });
  it("container: port 3000, nofile raised, stopTimeout 120 s, awslogs non-blocking", () => {
    assert.deepEqual(container.PortMappings, [{ ContainerPort: 3000, Protocol: "tcp" }]);
    assert.deepEqual(container.Ulimits, [{ Name: "nofile", SoftLimit: 65536, HardLimit: 65536 }]);
    assert.equal(container.StopTimeout, 120);
    assert.ok(Number(env.DRAIN_SECONDS) < container.StopTimeout);
    assert.equal(container.LogConfiguration.LogDriver, "awslogs");
    assert.equal(container.LogConfiguration.Options.mode, "non-blocking");
    assert.equal(container.HealthCheck, undefined);
  });
  it("logs are kept 30 days", () => {
    const groupRef = container.LogConfiguration.Options["awslogs-group"].Ref;
    assert.equal(json.Resources[groupRef].Properties.RetentionInDays, 30);
  });
  it("environment follows the gateway contract", () => {
    assert.equal(env.PORT, "3000");
    assert.equal(env.REDIS_MODE, "cluster");
    assert.equal(env.REDIS_TLS, "true");
    assert.equal(env.NAMESPACES, "/calls,/dashboard");
    assert.equal(env.DRAIN_SECONDS, "60");
    assert.equal(env.PING_INTERVAL_MS, "25000");
    assert.equal(env.PING_TIMEOUT_MS, "20000");
    assert.equal(env.CLOUDWATCH_NAMESPACE, "Switchboard");
    assert.equal(env.SERVICE_NAME, "switchboard-gateway");
    assert.equal(env.AUTH_MODE, "hs256");
    assert.equal(env.LOG_LEVEL, "info");
    assert.equal(env.MAX_CONNECTIONS_PER_USER, "10");
    // The configuration endpoint of this fleet's replication group, address:port.
    assert.deepEqual(env.REDIS_NODES, {
      "Fn::Join": ["", [{ "Fn::GetAtt": [rgId, "ConfigurationEndPoint.Address"] }, ":", { "Fn::GetAtt": [rgId, "ConfigurationEndPoint.Port"] }]],
    });
  });
  it("credentials are ECS secrets from Secrets Manager, never environment variables", () => {
    const secrets = Object.fromEntries((container.Secrets as { Name: string; ValueFrom: unknown }[]).map((x) => [x.Name, x.ValueFrom]));
    assert.deepEqual(Object.keys(secrets).sort(), ["AUTH_SECRET", "PUBLISH_SECRET", "REDIS_AUTH"]);
    for (const name of ["REDIS_AUTH", "AUTH_SECRET", "PUBLISH_SECRET"]) assert.ok(!(name in env), `${name} must not be a plain env var`);
    const busSecret = resourcesOf(json, "AWS::SecretsManager::Secret").find(([id]) => id.startsWith("GatewayBusAuthToken"))!;
    assert.deepEqual(secrets.REDIS_AUTH, { Ref: busSecret[0] });
  });
  it("service: circuit breaker with rollback, minHealthyPercent 100, private subnets, no public IP", () => {
    const p = service.Properties;
    assert.deepEqual(p.DeploymentConfiguration.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
    assert.equal(p.DeploymentConfiguration.MinimumHealthyPercent, 100);
    assert.equal(p.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, "DISABLED");
    assert.equal(p.TaskDefinition.Ref, taskDefId);
  });
  it("cluster has Container Insights", () => {
    template.hasResourceProperties("AWS::ECS::Cluster", { ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }] });
  });
  it("the task role may publish metrics only to the gateway namespace", () => {
    const policy = resourcesOf(json, "AWS::IAM::Policy").find(([id]) => id.includes("TaskRole"))![1];
    assert.deepEqual(policy.Properties.PolicyDocument.Statement, [
      { Action: "cloudwatch:PutMetricData", Condition: { StringEquals: { "cloudwatch:namespace": "Switchboard" } }, Effect: "Allow", Resource: "*" },
    ]);
  });
});

describe("default stack: container image", () => {
  it("is built from gateway/Dockerfile at the repository root for linux/amd64", () => {
    assert.equal(s.dockerImages.length, 1);
    assert.equal(s.dockerImages[0]!.source.dockerFile, "gateway/Dockerfile");
    assert.equal(s.dockerImages[0]!.source.platform, "linux/amd64");
  });
  it("the staged build context holds no node_modules, cdk.out, .git or test outputs", () => {
    const staged = fs.readdirSync(s.dockerImages[0]!.stagedDir);
    for (const banned of ["node_modules", "cdk.out", ".git", "coverage", "dist"]) assert.ok(!staged.includes(banned), `${banned} staged`);
    assert.ok(staged.includes("package-lock.json") && staged.includes("gateway"));
    for (const e of ["node_modules", "cdk.out", ".git"]) assert.ok(imageExcludes().includes(e));
  });
  it("the exclude list keeps root-level dirs out without dropping same-named dirs inside gateway/src", () => {
    const ignore = IgnoreStrategy.docker(REPO_ROOT, imageExcludes());
    const at = (p: string) => ignore.ignores(path.join(REPO_ROOT, p));
    for (const p of ["node_modules/x/index.js", "gateway/node_modules/x.js", "cdk.out/manifest.json", ".git/HEAD", "lib/config.ts", "test/a.test.ts", "gateway/dist/main.js"]) {
      assert.equal(at(p), true, `${p} must be excluded`);
    }
    for (const p of ["gateway/src/main.ts", "gateway/src/lib/x.ts", "gateway/src/test/x.ts", "package.json", "package-lock.json", "tsconfig.build.json", "gateway/Dockerfile"]) {
      assert.equal(at(p), false, `${p} must be kept`);
    }
  });
  it("Dockerfile: multi-stage, CI steps, prod deps only, NODE_ENV=production, non-root, node gateway/dist/main.js", () => {
    const df = fs.readFileSync(path.join(REPO_ROOT, "gateway", "Dockerfile"), "utf8");
    assert.match(df, /^FROM node:20-bookworm-slim AS build$/m);
    assert.match(df, /^RUN npm ci$/m);
    assert.match(df, /^RUN npm run build$/m);
    assert.match(df, /^FROM node:20[\w.-]*slim AS runtime$/m);
    assert.match(df, /^ENV NODE_ENV=production$/m);
    assert.match(df, /^RUN npm ci --omit=dev/m);
    assert.match(df, /^COPY --from=build \/app\/gateway\/dist \.\/gateway\/dist$/m);
    assert.match(df, /^USER node$/m);
    assert.match(df, /^EXPOSE 3000$/m);
    assert.match(df, /^CMD \["node", "gateway\/dist\/main.js"\]$/m);
    assert.doesNotMatch(df, /^HEALTHCHECK/m);
  });
});

describe("default stack: ElastiCache bus", () => {
  it("cluster mode, failover, Multi-AZ, encryption in transit and at rest, non-default port", () => {
    template.hasResourceProperties("AWS::ElastiCache::ReplicationGroup", {
      ReplicationGroupId: "switchboard-gateway",
      Engine: "valkey",
      EngineVersion: "8.0",
      CacheNodeType: "cache.r7g.large",
      ClusterMode: "enabled",
      CacheParameterGroupName: "default.valkey8.cluster.on",
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: "required",
      Port: BUS_PORT,
      CacheSubnetGroupName: { Ref: Match.stringLikeRegexp("^GatewayBusSubnetGroup") },
      SecurityGroupIds: [{ "Fn::GetAtt": [busSgId, "GroupId"] }],
    });
  });
  it("auth token: generated in Secrets Manager with only characters ElastiCache accepts", () => {
    const [, secret] = resourcesOf(json, "AWS::SecretsManager::Secret").find(([id]) => id.startsWith("GatewayBusAuthToken"))!;
    const g = secret.Properties.GenerateSecretString;
    assert.equal(g.ExcludeCharacters, AUTH_TOKEN_EXCLUDED_CHARACTERS);
    for (const ch of ['/', '"', "@", " "]) assert.ok(g.ExcludeCharacters.includes(ch), `must exclude ${JSON.stringify(ch)}`);
    assert.ok(g.PasswordLength >= 16 && g.PasswordLength <= 128);
    assert.notEqual(g.IncludeSpace, true);
  });
  it("auth token never appears in clear: the template only holds a dynamic reference", () => {
    const token = rg.Properties.AuthToken;
    assert.equal(typeof token, "object", "AuthToken must not be a literal string");
    assert.match(JSON.stringify(token), /\{\{resolve:secretsmanager:/);
    // No SecretString literal anywhere, and the secret names appear only as ECS Secrets.
    const text = JSON.stringify(json);
    assert.ok(!text.includes('"SecretString"'), "a secret value is written in the template");
    assert.equal((text.match(/"REDIS_AUTH"/g) ?? []).length, 1, "REDIS_AUTH appears once (as an ECS secret name)");
  });
  it("own subnet group in the isolated subnets, security group admits the Redis port from the tasks only", () => {
    const [, subnetGroup] = only("AWS::ElastiCache::SubnetGroup");
    assert.equal(subnetGroup.Properties.SubnetIds.length, 2);
    for (const ref of subnetGroup.Properties.SubnetIds) assert.match(ref.Ref, /cacheSubnet/);
    assert.equal(busSg.Properties.SecurityGroupIngress, undefined);
    assert.equal(busSg.Properties.SecurityGroupEgress?.[0]?.CidrIp, "255.255.255.255/32", "no egress (CDK's disallow-all marker)");
    const ingress = resourcesOf(json, "AWS::EC2::SecurityGroupIngress")
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(busSgId));
    assert.deepEqual(
      ingress.map((p) => [p.SourceSecurityGroupId, p.FromPort, p.ToPort]),
      [[{ "Fn::GetAtt": [taskSgId, "GroupId"] }, BUS_PORT, BUS_PORT]],
    );
  });
});

describe("default stack: network", () => {
  it("a new VPC over 2 AZs with 1 NAT gateway and public/tasks/cache subnets", () => {
    template.resourceCountIs("AWS::EC2::VPC", 1);
    template.resourceCountIs("AWS::EC2::NatGateway", 1);
    template.resourceCountIs("AWS::EC2::Subnet", 6);
  });
  it("VPC flow logs capture all traffic into a log group with retention", () => {
    const [, flowLog] = only("AWS::EC2::FlowLog");
    assert.equal(flowLog.Properties.TrafficType, "ALL");
    assert.equal(flowLog.Properties.ResourceType, "VPC");
    assert.equal(json.Resources[flowLog.Properties.LogGroupName.Ref].Properties.RetentionInDays, 30);
  });
});

describe("default stack: autoscaling", () => {
  it("between minTasks 2 and maxTasks 10", () => {
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 2, MaxCapacity: 10, ScalableDimension: "ecs:service:DesiredCount" });
  });
  it("target tracking on average ConnectedClients per task = 20000, scale-in cooldown long, scale-out short", () => {
    const [, policy] = resourcesOf(json, "AWS::ApplicationAutoScaling::ScalingPolicy").find(([, p]) => p.Properties.PolicyType === "TargetTrackingScaling")!;
    const c = policy.Properties.TargetTrackingScalingPolicyConfiguration;
    assert.deepEqual(c.CustomizedMetricSpecification, {
      Namespace: "Switchboard",
      MetricName: "ConnectedClients",
      Statistic: "Average",
      Dimensions: [{ Name: "ServiceName", Value: "switchboard-gateway" }],
    });
    assert.equal(c.TargetValue, 20000);
    assert.equal(c.ScaleInCooldown, 900);
    assert.equal(c.ScaleOutCooldown, 60);
    assert.equal(env.SERVICE_NAME, c.CustomizedMetricSpecification.Dimensions[0].Value, "scales on the dimension the gateway publishes");
  });
  it("CPU step scaling adds tasks above 70% and never removes any", () => {
    const steps = resourcesOf(json, "AWS::ApplicationAutoScaling::ScalingPolicy").filter(([, p]) => p.Properties.PolicyType === "StepScaling");
    assert.equal(steps.length, 1, "only an upper (scale-out) policy");
    const cfg = steps[0]![1].Properties.StepScalingPolicyConfiguration;
    assert.ok(cfg.StepAdjustments.every((a: any) => a.ScalingAdjustment > 0));
    const cpuAlarm = resourcesOf(json, "AWS::CloudWatch::Alarm").find(([, a]) => JSON.stringify(a.Properties.AlarmActions ?? []).includes(steps[0]![0]))!;
    assert.equal(cpuAlarm[1].Properties.MetricName, "CPUUtilization");
    assert.equal(cpuAlarm[1].Properties.Threshold, 70);
  });
});

const EXPECTED_ALARMS = [
  "gateway-broker-bandwidth-out",
  "gateway-broker-connections",
  "gateway-broker-engine-cpu",
  "gateway-broker-evictions",
  "gateway-broker-memory",
  "gateway-broker-pps",
  "gateway-broker-replication-lag",
  "gateway-connections-per-task",
  "gateway-healthy-hosts-low",
  "gateway-running-below-desired",
  "gateway-task-cpu",
  "gateway-task-memory",
  "gateway-unhealthy-hosts",
  "nlb-elb-resets",
  "nlb-target-resets",
].map((n) => `Switchboard-${n}`);

describe("default stack: alarms", () => {
  it("exactly the expected named alarms (the step-scaling alarm is unnamed), each saying what it means and what to do", () => {
    assert.deepEqual(alarmNames(json).filter((n) => n !== undefined), EXPECTED_ALARMS);
    for (const n of EXPECTED_ALARMS) {
      const a = alarmNamed(json, n);
      assert.ok(a.AlarmDescription.length > 80 && a.AlarmDescription.includes("Action:"), n);
      assert.equal(a.AlarmActions, undefined, "no SNS topic without alarmEmail");
    }
  });
  it("connections per task: busiest task above 80% of maxConnectionsPerTask (24000) for 3 minutes", () => {
    const a = alarmNamed(json, "Switchboard-gateway-connections-per-task");
    assert.equal(a.Namespace, "Switchboard");
    assert.equal(a.MetricName, "ConnectedClients");
    assert.equal(a.Statistic, "Maximum");
    assert.deepEqual(a.Dimensions, [{ Name: "ServiceName", Value: "switchboard-gateway" }]);
    assert.equal(a.Threshold, 24000);
    assert.equal(a.ComparisonOperator, "GreaterThanThreshold");
    assert.equal(a.EvaluationPeriods, 3);
  });
  it("broker alarms take the MAX over every node of every shard (6 nodes)", () => {
    const nodes = ["0001-001", "0001-002", "0002-001", "0002-002", "0003-001", "0003-002"].map((n) => `switchboard-gateway-${n}`);
    for (const [key, metric, threshold] of [
      ["engine-cpu", "EngineCPUUtilization", 80],
      ["memory", "DatabaseMemoryUsagePercentage", 80],
      ["evictions", "Evictions", 0],
      ["connections", "CurrConnections", 50000],
      ["replication-lag", "ReplicationLag", 1],
      ["bandwidth-out", "NetworkBandwidthOutAllowanceExceeded", 0],
      ["pps", "NetworkPacketsPerSecondAllowanceExceeded", 0],
    ] as const) {
      const a = alarmNamed(json, `Switchboard-gateway-broker-${key}`);
      assert.equal(a.Threshold, threshold, key);
      const queries = a.Metrics.filter((m: any) => m.MetricStat);
      assert.equal(queries.length, 6, key);
      assert.ok(queries.length <= 10, "metric-math alarms take at most 10 metrics");
      assert.deepEqual(queries.map((m: any) => m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === "CacheClusterId").Value).sort(), nodes);
      assert.ok(queries.every((m: any) => m.MetricStat.Metric.MetricName === metric && m.MetricStat.Metric.Namespace === "AWS/ElastiCache"));
      const expr = a.Metrics.find((m: any) => m.Expression);
      assert.match(expr.Expression, /^MAX\(\[n0,n1,n2,n3,n4,n5\]\)$/);
      assert.equal(expr.ReturnData, true);
    }
  });
  it("load balancer: unhealthy hosts > 0, healthy hosts < minTasks, TCP resets", () => {
    const unhealthy = alarmNamed(json, "Switchboard-gateway-unhealthy-hosts");
    assert.equal(unhealthy.MetricName, "UnHealthyHostCount");
    assert.equal(unhealthy.Namespace, "AWS/NetworkELB");
    assert.equal(unhealthy.Threshold, 0);
    const healthy = alarmNamed(json, "Switchboard-gateway-healthy-hosts-low");
    assert.equal(healthy.MetricName, "HealthyHostCount");
    assert.equal(healthy.ComparisonOperator, "LessThanThreshold");
    assert.equal(healthy.Threshold, 2);
    assert.equal(healthy.TreatMissingData, "breaching");
    assert.equal(alarmNamed(json, "Switchboard-nlb-target-resets").MetricName, "TCP_Target_Reset_Count");
    assert.equal(alarmNamed(json, "Switchboard-nlb-elb-resets").MetricName, "TCP_ELB_Reset_Count");
  });
  it("service: CPU and memory above 80%, running tasks below desired from Container Insights", () => {
    assert.equal(alarmNamed(json, "Switchboard-gateway-task-cpu").MetricName, "CPUUtilization");
    assert.equal(alarmNamed(json, "Switchboard-gateway-task-memory").MetricName, "MemoryUtilization");
    const a = alarmNamed(json, "Switchboard-gateway-running-below-desired");
    const names = a.Metrics.filter((m: any) => m.MetricStat).map((m: any) => `${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`).sort();
    assert.deepEqual(names, ["ECS/ContainerInsights/DesiredTaskCount", "ECS/ContainerInsights/RunningTaskCount"]);
    assert.equal(a.Metrics.find((m: any) => m.Expression).Expression, "desired - running");
    assert.equal(a.Threshold, 1);
    assert.equal(a.EvaluationPeriods, 10);
  });
});

describe("default stack: dashboard", () => {
  const body = JSON.stringify(only("AWS::CloudWatch::Dashboard")[1].Properties.DashboardBody);
  it("shows connections per task and in total, new connections, delivery latency", () => {
    for (const needle of ["connections per task", "connections in total", "new connections per minute", "ConnectedClients", "NewConnections", "DeliveryLatencyP99", "EventLoopLagP99"]) {
      assert.ok(body.includes(needle), needle);
    }
  });
  it("shows broker CPU and memory per shard (3 shards) and unhealthy hosts", () => {
    for (const needle of ["EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "shard 0001", "shard 0003", "UnHealthyHostCount"]) {
      assert.ok(body.includes(needle), needle);
    }
    assert.ok(!body.includes("shard 0004"));
  });
});

describe("default stack: outputs", () => {
  it("exports the endpoint of the fleet", () => {
    template.hasOutput("GatewayEndpoint", { Value: Match.objectLike({ "Fn::Join": Match.anyValue() }) });
    assert.ok(serviceId);
  });
});
