#!/usr/bin/env node
// npm run synth:small-model  (offline: no account, no Docker) -> cdk.out.small-model/
import { App } from 'aws-cdk-lib';
import { SmallModelStack } from './stack';

const app = new App();
new SmallModelStack(app, 'LlmFinOpsSmallModel', {
  description: 'cdk-llm-finops example: a ticket classifier switched from Claude Sonnet to a small model on CPU, with capture, shadow tests and the guarded switch',
});
app.synth();
