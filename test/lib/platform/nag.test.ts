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

  it('stays clean with every alert target, an encrypted topic and tenant budgets', () => {
    const app = new App();
    const gatewayConfig = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
    new ReferencePlatformStack(app, 'Full', {
      gatewayConfig,
      notifications: {
        encryption: true,
        emails: ['finops@example.com'],
        slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCDE' },
        pagerDutyEventsUrl: 'https://events.pagerduty.com/integration/0123456789abcdef/enqueue',
      },
    });
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});
