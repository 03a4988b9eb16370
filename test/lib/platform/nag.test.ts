import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ReferencePlatformStack } from '../../../lib';
import { unacknowledgedNagFindings } from '../../support/nag';

describe('ReferencePlatformStack', () => {
  it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
    const app = new App();
    const gatewayConfig = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
    new ReferencePlatformStack(app, 'Ref', { gatewayConfig });
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});
