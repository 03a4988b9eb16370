#!/usr/bin/env node
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { GatewayConfig, ReferencePlatformStack } from '../lib';

// Synthesises offline: no account or region is looked up, so no AWS credentials are needed.
const app = new App();
const gatewayConfig = GatewayConfig.fromFile(join(__dirname, '..', 'examples', 'platform', 'gateway.json'));
// `cdk deploy -c setUpApiGatewayAccountLogging=true` (first stack in the account and Region) or `=false` (role exists).
const accountLogging = app.node.tryGetContext('setUpApiGatewayAccountLogging');
new ReferencePlatformStack(app, 'LlmFinOpsReferencePlatform', {
  gatewayConfig,
  setUpApiGatewayAccountLogging: accountLogging === undefined ? undefined : String(accountLogging) === 'true',
  description: 'cdk-llm-finops reference platform: cost-managed, OpenAI-compatible LLM gateway',
});
app.synth();
