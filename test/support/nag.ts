import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/** Synthesises the app with cdk-nag's AwsSolutions pack; returns the report of unacknowledged findings ('' when none). */
export function unacknowledgedNagFindings(app: App): string {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}
