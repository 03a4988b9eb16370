import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ReferencePlatformStack } from '../../lib';
import { specProblems } from '../support/cfn-spec';

const ROOT = join(__dirname, '..', '..');
const platformConfig = JSON.parse(readFileSync(join(ROOT, 'examples', 'platform', 'gateway.json'), 'utf8'));

describe('synthesised templates against the CloudFormation resource specification', () => {
  it('the reference platform', () => {
    const app = new App();
    const stack = new ReferencePlatformStack(app, 'Ref', { gatewayConfig: platformConfig });
    expect(specProblems(Template.fromStack(stack).toJSON())).toEqual([]);
  });
});
