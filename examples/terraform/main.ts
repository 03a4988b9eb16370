#!/usr/bin/env node
// A cdktf app: the core cost-managed gateway on Terraform's AWS provider.
//   npm run synth:terraform   -> cdktf.out/stacks/llm-finops/cdk.tf.json (offline, no credentials)
//   cd cdktf.out/stacks/llm-finops && terraform init && terraform apply
import { join } from 'node:path';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { App, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
// In your app: from 'cdk-llm-finops/cdktf'.
import { GatewayConfig, TfCostManagedGateway } from '../../lib/cdktf';

export class LlmFinOpsTerraformStack extends TerraformStack {
  readonly platform: TfCostManagedGateway;

  constructor(scope: Construct, id: string, region = 'us-east-1') {
    super(scope, id);
    new AwsProvider(this, 'aws', { region });
    const config = GatewayConfig.fromFile(join(__dirname, '..', 'platform', 'gateway.json'));
    this.platform = new TfCostManagedGateway(this, 'llm', { config, name: 'llm-finops', monthlyBudgetUsd: 1000 });
  }
}

if (require.main === module) {
  const app = new App({ outdir: join(__dirname, '..', '..', 'cdktf.out') });
  new LlmFinOpsTerraformStack(app, 'llm-finops');
  app.synth();
  process.stdout.write('synthesised cdktf.out/stacks/llm-finops/cdk.tf.json\n');
}
