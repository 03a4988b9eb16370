import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ReferencePlatformStack } from '../../../lib';

describe('ReferencePlatformStack', () => {
  it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
    const app = new App();
    const gatewayConfig = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
    new ReferencePlatformStack(app, 'Ref', { gatewayConfig });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let report = '';
    try {
      app.synth();
    } catch (err) {
      report = (err as Error).message;
    }
    expect(report).toBe('');
  });
});
