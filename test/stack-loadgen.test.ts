/**
 * loadgenTasks=N: the load generator as N Fargate tasks of the gateway image
 * against the stack's own NLB (docs/performance.md, "LOADGEN"). Two synths.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../lib/config.js";
import { containerEnvironment, resourcesOf, synthesize } from "./stack/synthesize.js";

/** Asserts synthesis with `context` fails on parsing with a message containing every fragment. */
function rejects(context: Record<string, unknown>, ...fragments: string[]): void {
  assert.throws(
    () => synthesize(context),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      for (const f of fragments) assert.ok(err.message.includes(f), `message lacks ${JSON.stringify(f)}: ${err.message}`);
      return true;
    },
  );
}

/** The gateway container's environment (the task definition that is not the load generator's). */
const gatewayEnv = (json: Record<string, any>) => containerEnvironment(json, (id) => !id.startsWith("LoadGenerator"));

describe("loadgen: the gateways' per-IP connect limit", () => {
  it("is the configured one without load generators (defaults 10/s, burst 20)", () => {
    const env = gatewayEnv(synthesize().json);
    assert.equal(env.CONNECT_RATE_PER_IP, "10");
    assert.equal(env.CONNECT_BURST_PER_IP, "20");
    const tuned = gatewayEnv(synthesize({ connectRatePerIp: "5", connectBurstPerIp: "8" }).json);
    assert.equal(tuned.CONNECT_RATE_PER_IP, "5");
    assert.equal(tuned.CONNECT_BURST_PER_IP, "8");
  });
  it("is raised to loadgenRate (burst twice that) while loadgenTasks > 0: each task is one IP", () => {
    const env = gatewayEnv(synthesize({ loadgenTasks: "2" }).json);
    assert.equal(env.CONNECT_RATE_PER_IP, "500");
    assert.equal(env.CONNECT_BURST_PER_IP, "1000");
    const higher = gatewayEnv(synthesize({ loadgenTasks: "2", loadgenRate: "50", connectRatePerIp: "80", connectBurstPerIp: "300" }).json);
    assert.equal(higher.CONNECT_RATE_PER_IP, "80", "a configured limit above loadgenRate stays");
    assert.equal(higher.CONNECT_BURST_PER_IP, "300");
    const off = gatewayEnv(synthesize({ loadgenTasks: "2", connectRatePerIp: "0" }).json);
    assert.equal(off.CONNECT_RATE_PER_IP, "0", "no limit stays no limit");
  });
  it("refuses a negative or non-integer limit, naming the parameter", () => {
    rejects({ connectRatePerIp: "-1" }, "connectRatePerIp", "an integer from 0 to 1000000");
    rejects({ connectBurstPerIp: "0" }, "connectBurstPerIp", "an integer from 1 to 1000000");
  });
});

describe("loadgen: default context", () => {
  const { json, stack } = synthesize();
  it("no load-generator construct, service or task definition", () => {
    assert.equal(stack.loadGenerator, undefined);
    assert.equal(resourcesOf(json, "AWS::ECS::Service").length, 1);
    assert.equal(resourcesOf(json, "AWS::ECS::TaskDefinition").length, 1);
    assert.ok(!JSON.stringify(json).includes("LOADGEN_"));
  });
});

describe("loadgen: loadgenTasks=3 (hs256, issuer and audience set)", () => {
  const { json, nagFindings, dockerImages } = synthesize({
    loadgenTasks: "3",
    loadgenScenario: "fanout",
    loadgenConnections: "20000",
    loadgenRate: "250",
    loadgenHoldSeconds: "600",
    authIssuer: "switchboard-issuer",
    authAudience: "switchboard-clients",
  });
  const services = resourcesOf(json, "AWS::ECS::Service");
  const loadgen = services.find(([id]) => id.startsWith("LoadGenerator"));
  const taskDef = resourcesOf(json, "AWS::ECS::TaskDefinition").find(([id]) => id.startsWith("LoadGenerator"));
  const container = taskDef?.[1].Properties.ContainerDefinitions[0];
  const env = Object.fromEntries(((container?.Environment ?? []) as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
  const [nlbId] = resourcesOf(json, "AWS::ElasticLoadBalancingV2::LoadBalancer")[0]!;
  const [authSecretId] = resourcesOf(json, "AWS::SecretsManager::Secret").find(([id]) => id.startsWith("AuthSecret"))!;

  it("a second ECS service with DesiredCount 3", () => {
    assert.equal(services.length, 2);
    assert.ok(loadgen, "no LoadGenerator service");
    assert.equal(loadgen[1].Properties.DesiredCount, 3);
    assert.equal(loadgen[1].Properties.LaunchType, "FARGATE");
  });

  it("same image as the gateway, node loadtest/dist/main.js, 2 vCPU / 4 GiB, nofile 65536", () => {
    assert.ok(taskDef && container);
    const gateway = resourcesOf(json, "AWS::ECS::TaskDefinition").find(([id]) => !id.startsWith("LoadGenerator"))![1];
    assert.deepEqual(container.Image, gateway.Properties.ContainerDefinitions[0].Image);
    assert.equal(dockerImages.length, 1);
    assert.deepEqual(container.Command, ["node", "loadtest/dist/main.js"]);
    assert.equal(taskDef[1].Properties.Cpu, "2048");
    assert.equal(taskDef[1].Properties.Memory, "4096");
    assert.deepEqual(container.Ulimits, [{ Name: "nofile", SoftLimit: 65536, HardLimit: 65536 }]);
  });

  it("LOADGEN_URL is http://<NLB DNSName>:80 and the scenario comes from context", () => {
    assert.deepEqual(env.LOADGEN_URL, { "Fn::Join": ["", ["http://", { "Fn::GetAtt": [nlbId, "DNSName"] }, ":80"]] });
    assert.equal(env.LOADGEN_SCENARIO, "fanout");
    assert.equal(env.LOADGEN_CONNECTIONS, "20000");
    assert.equal(env.LOADGEN_RATE, "250");
    assert.equal(env.LOADGEN_HOLD, "600");
    assert.equal(env.LOADGEN_LINGER_SECONDS, "86400");
    assert.equal(env.LOADGEN_TLS_SKIP_HOSTNAME, undefined, "plain TCP listener: no TLS to verify");
    assert.equal(env.LOADGEN_TOKEN_ISSUER, "switchboard-issuer");
    assert.equal(env.LOADGEN_TOKEN_AUDIENCE, "switchboard-clients");
  });

  it("LOADGEN_TOKEN_SECRET is an ECS secret from the gateway's auth secret, never in the environment", () => {
    assert.equal(env.LOADGEN_TOKEN_SECRET, undefined);
    assert.deepEqual(container.Secrets, [{ Name: "LOADGEN_TOKEN_SECRET", ValueFrom: { Ref: authSecretId } }]);
  });

  it("public subnets with a public IP per task, its own egress-only security group", () => {
    const net = loadgen![1].Properties.NetworkConfiguration.AwsvpcConfiguration;
    assert.equal(net.AssignPublicIp, "ENABLED");
    for (const s of net.Subnets) assert.match(s.Ref, /public/i);
    const [sgId, sg] = resourcesOf(json, "AWS::EC2::SecurityGroup").find(([id]) => id.startsWith("LoadGenerator"))!;
    assert.deepEqual(net.SecurityGroups, [{ "Fn::GetAtt": [sgId, "GroupId"] }]);
    assert.equal(sg.Properties.SecurityGroupIngress, undefined);
    const ingressRules = resourcesOf(json, "AWS::EC2::SecurityGroupIngress").filter(([, r]) => JSON.stringify(r.Properties.GroupId).includes(sgId));
    assert.deepEqual(ingressRules, []);
    assert.deepEqual(sg.Properties.SecurityGroupEgress.map((r: any) => r.FromPort).sort(), [443, 80]);
  });

  it("its own log group with the configured retention", () => {
    const [logsId, logs] = resourcesOf(json, "AWS::Logs::LogGroup").find(([id]) => id.startsWith("LoadGenerator"))!;
    assert.equal(logs.Properties.RetentionInDays, 30);
    assert.deepEqual(container.LogConfiguration.Options["awslogs-group"], { Ref: logsId });
  });

  it("passes cdk-nag", () => assert.deepEqual(nagFindings, []));
});

describe("loadgen: invalid context", () => {
  it("loadgenTasks=-1 names the parameter", () => rejects({ loadgenTasks: "-1" }, '"loadgenTasks"', '"-1"', "0 to 100"));
  it("loadgenTasks=101 names the parameter", () => rejects({ loadgenTasks: "101" }, '"loadgenTasks"', "0 to 100"));
  it("loadgenScenario=soak names the parameter", () => rejects({ loadgenScenario: "soak" }, '"loadgenScenario"', '"soak"', '"idle", "fanout", "churn"'));
  it("loadgenConnections=0 names the parameter", () => rejects({ loadgenConnections: "0" }, '"loadgenConnections"'));
  it("loadgenTasks with authMode=jwks is refused (the load generator cannot mint tokens)", () =>
    rejects({ loadgenTasks: "2", authMode: "jwks", authJwksUrl: "https://issuer.example/jwks.json" }, '"loadgenTasks"', "authMode=jwks"));
});

describe("loadgen: behind certificateArn", () => {
  // The listener's certificate names your domain, not the NLB's DNS name the tasks connect to.
  const { json } = synthesize({ loadgenTasks: "1", certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555" });
  const env = containerEnvironment(json, (id) => id.startsWith("LoadGenerator"));
  const nlbId = resourcesOf(json, "AWS::ElasticLoadBalancingV2::LoadBalancer")[0][0];

  it("targets https://<NLB DNSName>:443 and verifies the certificate chain, not the host name", () => {
    assert.deepEqual(env.LOADGEN_URL, { "Fn::Join": ["", ["https://", { "Fn::GetAtt": [nlbId, "DNSName"] }, ":443"]] });
    assert.equal(env.LOADGEN_TLS_SKIP_HOSTNAME, "true");
  });
});
