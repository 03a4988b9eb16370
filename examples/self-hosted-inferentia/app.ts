#!/usr/bin/env node
// npm run synth:inferentia  (offline: no account, no Docker) -> cdk.out.inferentia/
import { App } from 'aws-cdk-lib';
import { SelfHostedInferentiaStack } from './stack';

const app = new App();
new SelfHostedInferentiaStack(app, 'LlmFinOpsSelfHostedInferentia', {
  description: 'cdk-llm-finops example: an Inferentia2 endpoint (scale to zero) as the small tier, Bedrock as the large tier',
});
app.synth();
