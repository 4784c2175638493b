import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseConfig, type SwitchboardConfig } from "../../lib/config.js";
import { createSwitchboardStack, type SwitchboardStack } from "../../lib/switchboard-stack.js";

export interface Synthesized {
  readonly stack: SwitchboardStack;
  readonly template: Template;
  readonly json: Record<string, any>;
  readonly config: SwitchboardConfig;
  /** Unacknowledged AwsSolutions findings, as "RuleId at path". */
  readonly nagFindings: string[];
  /** The Docker image assets of the stack (assets manifest), with their staged directory. */
  readonly dockerImages: { source: { directory: string; dockerFile?: string; platform?: string }; stagedDir: string }[];
}

/**
 * Synthesizes the stack the way bin/ does: raw context -> parseConfig -> factory.
 * Values are given like `-c` gives them (strings) unless a test says otherwise.
 */
export function synthesize(context: Record<string, unknown> = {}, environment: Record<string, string> = {}): Synthesized {
  const app = new App({ context, stackTraces: false });
  const config = parseConfig(app.node.getAllContext() as Record<string, unknown>, environment);
  const stack = createSwitchboardStack(app, "Switchboard", config);
  const template = Template.fromStack(stack);
  const report = new AwsSolutionsChecks(app).validateScope(stack);
  const nagFindings = report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`),
  );
  const assembly = app.synth();
  const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, "Switchboard.assets.json"), "utf8"));
  const dockerImages = Object.values(manifest.dockerImages ?? {}).map((a: any) => ({
    source: a.source,
    stagedDir: path.join(assembly.directory, a.source.directory),
  }));
  return { stack, template, json: template.toJSON(), config, nagFindings, dockerImages };
}

/** Resources of a type, as [logicalId, resource] pairs. */
export function resourcesOf(json: Record<string, any>, type: string): [string, any][] {
  return Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

/** The first container's environment (name -> value) of the first task definition whose logical ID `pick` accepts. */
export function containerEnvironment(json: Record<string, any>, pick: (logicalId: string) => boolean = () => true): Record<string, unknown> {
  const def = resourcesOf(json, "AWS::ECS::TaskDefinition").find(([id]) => pick(id));
  assert.ok(def, "no task definition matched");
  const vars = (def[1].Properties.ContainerDefinitions[0].Environment ?? []) as { Name: string; Value: unknown }[];
  return Object.fromEntries(vars.map((e) => [e.Name, e.Value]));
}

/** Alarm names (they are literal: `<stack>-<name>`), sorted. */
export function alarmNames(json: Record<string, any>): string[] {
  return resourcesOf(json, "AWS::CloudWatch::Alarm")
    .map(([, r]) => r.Properties.AlarmName as string)
    .sort();
}

export function alarmNamed(json: Record<string, any>, name: string): any {
  const found = resourcesOf(json, "AWS::CloudWatch::Alarm").find(([, r]) => r.Properties.AlarmName === name);
  if (!found) throw new Error(`no alarm ${name}; have ${alarmNames(json).join(", ")}`);
  return found[1].Properties;
}

export const VPC_ID = "vpc-0123456789abcdef0";
export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

/** What Vpc.fromLookup would get from AWS, so tests of vpcId make no AWS call. */
export function vpcLookupContext(): Record<string, unknown> {
  const azs = ["us-east-1a", "us-east-1b"];
  const group = (name: string, type: string, octet: number) => ({
    name,
    type,
    subnets: azs.map((az, i) => ({
      subnetId: `subnet-${String(octet + i).padStart(17, "0")}`,
      cidr: `10.0.${octet + i}.0/24`,
      availabilityZone: az,
      routeTableId: `rtb-${String(octet + i).padStart(17, "0")}`,
    })),
  });
  return {
    [`vpc-provider:account=${ACCOUNT}:filter.vpc-id=${VPC_ID}:region=${REGION}:returnAsymmetricSubnets=true`]: {
      vpcId: VPC_ID,
      vpcCidrBlock: "10.0.0.0/16",
      ownerAccountId: ACCOUNT,
      availabilityZones: [],
      subnetGroups: [group("public", "Public", 0), group("private", "Private", 10), group("isolated", "Isolated", 20)],
    },
  };
}
