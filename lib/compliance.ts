import { Validations, type App } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";

/**
 * cdk-nag 3.x is a policy-validation plugin: with it registered, any
 * unacknowledged AwsSolutions finding interrupts `cdk synth`.
 * Acknowledgements sit next to the resource they concern (Validations.of(x).acknowledge).
 */
export function enableAwsSolutionsChecks(app: App): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(checks);
  return checks;
}
