import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CacheEngine, CostManagedAiPlatform, GatewayConfig, ReferencePlatformStack, RouterEgress } from '../../../lib';
import { unacknowledgedNagFindings } from '../../support/nag';

describe('ReferencePlatformStack', () => {
  it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
    const app = new App();
    const gatewayConfig = GatewayConfig.fromFile(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'));
    new ReferencePlatformStack(app, 'Ref', { gatewayConfig });
    expect(unacknowledgedNagFindings(app)).toBe('');
  });

  it('stays clean with every alert target, an encrypted topic and tenant budgets', () => {
    const app = new App();
    const gatewayConfig = GatewayConfig.fromFile(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'));
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

  it('stays clean with a Valkey cache in isolated subnets and the VPC endpoints the router needs', () => {
    const app = new App();
    const stack = new Stack(app, 'Isolated', { env: { account: '111122223333', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'the test\'s VPC: flow logs are the VPC owner\'s choice' });
    const gatewayConfig = GatewayConfig.fromFile(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'));
    new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig, semanticCache: { engine: CacheEngine.valkey({ vpc }) }, routerEgress: RouterEgress.CREATE_ENDPOINTS });
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});
