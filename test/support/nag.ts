import { type App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { specProblems } from './cfn-spec';

/**
 * Synthesises the app with cdk-nag's AwsSolutions pack, then checks every stack's template against the CloudFormation
 * resource specification; returns the report of unacknowledged findings and specification problems ('' when none).
 */
export function unacknowledgedNagFindings(app: App): string {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let assembly;
  try {
    assembly = app.synth();
  } catch (err) {
    return (err as Error).message;
  }
  const problems = app.node.findAll().filter((c): c is Stack => Stack.isStack(c)).flatMap((stack) =>
    specProblems(assembly.getStackArtifact(stack.artifactId).template).map((p) => `${stack.stackName}: ${p}`));
  return problems.length ? `CloudFormation resource specification:\n  ${problems.join('\n  ')}` : '';
}
