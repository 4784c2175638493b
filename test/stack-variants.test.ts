/**
 * The stack under non-default context, one synthesis per context:
 * bigger bus, TLS, single-node-group Redis, two fleets, existing VPC, alarm email, arm64.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACCOUNT, REGION, VPC_ID, alarmNamed, alarmNames, containerEnvironment, resourcesOf, synthesize, vpcLookupContext } from "./stack/synthesize.js";

const attr = (list: { Key: string; Value: string }[], key: string) => list.find((a) => a.Key === key)?.Value;
const envOf = (json: any, taskDefId?: string) => containerEnvironment(json, (id) => !taskDefId || id.startsWith(taskDefId));

describe("shards=8 replicasPerShard=2 desiredCount=6", () => {
  const { json, nagFindings } = synthesize({ shards: "8", replicasPerShard: "2", desiredCount: "6" });
  const rg = resourcesOf(json, "AWS::ElastiCache::ReplicationGroup")[0]![1].Properties;
  it("8 node groups of 1 primary + 2 replicas, 6 tasks", () => {
    assert.equal(rg.NumNodeGroups, 8);
    assert.equal(rg.ReplicasPerNodeGroup, 2);
    assert.equal(resourcesOf(json, "AWS::ECS::Service")[0]![1].Properties.DesiredCount, 6);
  });
  it("broker alarms cover all 24 nodes in groups of whole shards of at most 10 metrics", () => {
    const cpu = alarmNames(json).filter((n) => n?.startsWith("Switchboard-gateway-broker-engine-cpu"));
    assert.deepEqual(cpu, ["Switchboard-gateway-broker-engine-cpu-1", "Switchboard-gateway-broker-engine-cpu-2", "Switchboard-gateway-broker-engine-cpu-3"]);
    const ids = cpu.flatMap((n) =>
      alarmNamed(json, n).Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === "CacheClusterId").Value),
    );
    assert.equal(ids.length, 24);
    assert.equal(new Set(ids).size, 24);
    assert.ok(ids.includes("switchboard-gateway-0008-003"));
    for (const n of cpu) assert.ok(alarmNamed(json, n).Metrics.filter((m: any) => m.MetricStat).length <= 10);
    // 7 broker checks x 3 groups.
    assert.equal(alarmNames(json).filter((n) => n?.includes("-broker-")).length, 21);
  });
  it("dashboard has one line per shard, up to shard 0008", () => {
    const body = JSON.stringify(resourcesOf(json, "AWS::CloudWatch::Dashboard")[0]![1].Properties.DashboardBody);
    for (let s = 1; s <= 8; s++) assert.ok(body.includes(`shard 000${s}`), `shard ${s}`);
  });
  it("passes cdk-nag", () => assert.deepEqual(nagFindings, []));
});

describe("certificateArn", () => {
  const cert = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";
  const { json, nagFindings } = synthesize({ certificateArn: cert });
  const listeners = resourcesOf(json, "AWS::ElasticLoadBalancingV2::Listener").map(([, l]) => l.Properties);
  it("one TLS listener on 443 with the certificate, port 80 not opened", () => {
    assert.equal(listeners.length, 1);
    assert.equal(listeners[0].Port, 443);
    assert.equal(listeners[0].Protocol, "TLS");
    assert.deepEqual(listeners[0].Certificates, [{ CertificateArn: cert }]);
    assert.match(listeners[0].SslPolicy, /TLS13/);
    const lbSg = resourcesOf(json, "AWS::EC2::SecurityGroup").find(([id]) => id.startsWith("LoadBalancerSecurityGroup"))![1];
    assert.deepEqual(lbSg.Properties.SecurityGroupIngress.map((r: any) => r.FromPort), [443]);
  });
  it("NLB access logs go to an encrypted, SSL-only bucket", () => {
    const lb = resourcesOf(json, "AWS::ElasticLoadBalancingV2::LoadBalancer")[0]![1].Properties;
    assert.equal(attr(lb.LoadBalancerAttributes, "access_logs.s3.enabled"), "true");
    const [bucketId, bucket] = resourcesOf(json, "AWS::S3::Bucket")[0]!;
    assert.deepEqual(attr(lb.LoadBalancerAttributes, "access_logs.s3.bucket" as any), { Ref: bucketId } as any);
    assert.equal(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, "AES256");
    const policy = JSON.stringify(resourcesOf(json, "AWS::S3::BucketPolicy")[0]![1].Properties);
    assert.ok(policy.includes("delivery.logs.amazonaws.com") && policy.includes("aws:SecureTransport"));
  });
  it("passes cdk-nag", () => assert.deepEqual(nagFindings, []));
});

describe("redisMode=single", () => {
  const { json, nagFindings } = synthesize({ redisMode: "single" });
  const [rgId, rg] = resourcesOf(json, "AWS::ElastiCache::ReplicationGroup")[0]!;
  it("one shard without cluster mode: primary + replica, failover and Multi-AZ still on", () => {
    assert.equal(rg.Properties.ClusterMode, "disabled");
    assert.equal(rg.Properties.NumNodeGroups, undefined);
    assert.equal(rg.Properties.NumCacheClusters, 2);
    assert.equal(rg.Properties.CacheParameterGroupName, "default.valkey8");
    assert.equal(rg.Properties.AutomaticFailoverEnabled, true);
    assert.equal(rg.Properties.MultiAZEnabled, true);
  });
  it("the gateway runs REDIS_MODE=single against the primary endpoint", () => {
    const env = envOf(json);
    assert.equal(env.REDIS_MODE, "single");
    assert.deepEqual(env.REDIS_NODES, {
      "Fn::Join": ["", [{ "Fn::GetAtt": [rgId, "PrimaryEndPoint.Address"] }, ":", { "Fn::GetAtt": [rgId, "PrimaryEndPoint.Port"] }]],
    });
  });
  it("broker alarms watch the two nodes <rg>-001 and <rg>-002", () => {
    const ids = alarmNamed(json, "Switchboard-gateway-broker-engine-cpu")
      .Metrics.filter((m: any) => m.MetricStat)
      .map((m: any) => m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === "CacheClusterId").Value)
      .sort();
    assert.deepEqual(ids, ["switchboard-gateway-001", "switchboard-gateway-002"]);
  });
  it("passes cdk-nag", () => assert.deepEqual(nagFindings, []));
});

describe("two fleets", () => {
  const fleets = '[{"name":"calls","namespaces":["/calls"],"port":443,"shards":3},{"name":"dashboard","namespaces":["/dashboard"],"port":8443,"shards":1}]';
  const { json, nagFindings } = synthesize({ fleets });
  it("two services, two replication groups, two listener ports on the one NLB", () => {
    assert.equal(resourcesOf(json, "AWS::ECS::Service").length, 2);
    assert.equal(resourcesOf(json, "AWS::ElasticLoadBalancingV2::LoadBalancer").length, 1);
    const rgs = Object.fromEntries(resourcesOf(json, "AWS::ElastiCache::ReplicationGroup").map(([, r]) => [r.Properties.ReplicationGroupId, r.Properties.NumNodeGroups]));
    assert.deepEqual(rgs, { "switchboard-calls": 3, "switchboard-dashboard": 1 });
    const ports = resourcesOf(json, "AWS::ElasticLoadBalancingV2::Listener").map(([, l]) => l.Properties.Port).sort();
    assert.deepEqual(ports, [443, 8443]);
  });
  it("each gateway serves only its fleet's namespaces, against its own bus, under its own metric name", () => {
    const calls = envOf(json, "CallsFleet");
    const dash = envOf(json, "DashboardFleet");
    assert.equal(calls.NAMESPACES, "/calls");
    assert.equal(dash.NAMESPACES, "/dashboard");
    assert.equal(calls.SERVICE_NAME, "switchboard-calls");
    assert.equal(dash.SERVICE_NAME, "switchboard-dashboard");
    assert.match(JSON.stringify(calls.REDIS_NODES), /CallsBusReplicationGroup/);
    assert.match(JSON.stringify(dash.REDIS_NODES), /DashboardBusReplicationGroup/);
  });
  it("a fleet's bus admits only that fleet's tasks", () => {
    const ingress = resourcesOf(json, "AWS::EC2::SecurityGroupIngress").map(([, r]) => r.Properties);
    const into = (bus: string) => ingress.filter((p) => JSON.stringify(p.GroupId).includes(bus)).map((p) => JSON.stringify(p.SourceSecurityGroupId));
    assert.equal(into("CallsBusSecurityGroup").length, 1);
    assert.match(into("CallsBusSecurityGroup")[0]!, /CallsFleetSecurityGroup/);
    assert.match(into("DashboardBusSecurityGroup")[0]!, /DashboardFleetSecurityGroup/);
  });
  it("alarms and scaling per fleet", () => {
    const names = alarmNames(json);
    assert.ok(names.includes("Switchboard-calls-connections-per-task") && names.includes("Switchboard-dashboard-connections-per-task"));
    assert.equal(resourcesOf(json, "AWS::ApplicationAutoScaling::ScalableTarget").length, 2);
  });
  it("passes cdk-nag", () => assert.deepEqual(nagFindings, []));
});

describe("existing VPC (vpcId + account + region)", () => {
  const { json, nagFindings, stack } = synthesize({ vpcId: VPC_ID, account: ACCOUNT, region: REGION, ...vpcLookupContext() });
  it("creates no VPC and deploys into the looked-up subnets", () => {
    assert.equal(resourcesOf(json, "AWS::EC2::VPC").length, 0);
    assert.equal(resourcesOf(json, "AWS::EC2::FlowLog").length, 0, "the VPC owner manages its flow logs");
    assert.equal(stack.account, ACCOUNT);
    assert.equal(stack.region, REGION);
    const service = resourcesOf(json, "AWS::ECS::Service")[0]![1].Properties;
    assert.deepEqual(service.NetworkConfiguration.AwsvpcConfiguration.Subnets, ["subnet-00000000000000010", "subnet-00000000000000011"]);
    const subnetGroup = resourcesOf(json, "AWS::ElastiCache::SubnetGroup")[0]![1].Properties;
    assert.deepEqual(subnetGroup.SubnetIds, ["subnet-00000000000000020", "subnet-00000000000000021"], "the broker goes to the isolated subnets");
    const sg = resourcesOf(json, "AWS::EC2::SecurityGroup")[0]![1].Properties;
    assert.equal(sg.VpcId, VPC_ID);
  });
  it("passes cdk-nag", () => assert.deepEqual(nagFindings, []));
});

describe("alarmEmail, arm64, redis 7.1, authMode=jwks", () => {
  const s = synthesize({
    alarmEmail: "oncall@example.com",
    cpuArchitecture: "arm64",
    cacheEngine: "redis",
    cacheEngineVersion: "7.1",
    authMode: "jwks",
    authJwksUrl: "https://id.example.com/.well-known/jwks.json",
    authIssuer: "https://id.example.com/",
  });
  const { json } = s;
  it("an SNS topic with the email subscribed receives every alarm and its recovery", () => {
    const [topicId] = resourcesOf(json, "AWS::SNS::Topic")[0]!;
    assert.deepEqual(resourcesOf(json, "AWS::SNS::Subscription")[0]![1].Properties.Endpoint, "oncall@example.com");
    const named = alarmNames(json).filter((n) => n);
    assert.ok(named.length >= 15);
    for (const n of named) {
      assert.deepEqual(alarmNamed(json, n).AlarmActions, [{ Ref: topicId }], n);
      assert.deepEqual(alarmNamed(json, n).OKActions, [{ Ref: topicId }], n);
    }
  });
  it("arm64 tasks and an arm64 image", () => {
    const td = resourcesOf(json, "AWS::ECS::TaskDefinition")[0]![1].Properties;
    assert.equal(td.RuntimePlatform.CpuArchitecture, "ARM64");
    assert.equal(s.dockerImages[0]!.source.platform, "linux/arm64");
  });
  it("redis 7.1 with its cluster-mode parameter group", () => {
    const rg = resourcesOf(json, "AWS::ElastiCache::ReplicationGroup")[0]![1].Properties;
    assert.equal(rg.Engine, "redis");
    assert.equal(rg.EngineVersion, "7.1");
    assert.equal(rg.CacheParameterGroupName, "default.redis7.cluster.on");
  });
  it("jwks: the gateway gets the JWKS URL and issuer, and no HS256 secret is generated", () => {
    const env = envOf(json);
    assert.equal(env.AUTH_MODE, "jwks");
    assert.equal(env.AUTH_JWKS_URL, "https://id.example.com/.well-known/jwks.json");
    assert.equal(env.AUTH_ISSUER, "https://id.example.com/");
    const container = resourcesOf(json, "AWS::ECS::TaskDefinition")[0]![1].Properties.ContainerDefinitions[0];
    assert.deepEqual(container.Secrets.map((x: any) => x.Name).sort(), ["PUBLISH_SECRET", "REDIS_AUTH"]);
    assert.equal(resourcesOf(json, "AWS::SecretsManager::Secret").length, 2);
  });
  it("passes cdk-nag", () => assert.deepEqual(s.nagFindings, []));
});
