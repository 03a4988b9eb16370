/**
 * cdk-llm-finops for CDK for Terraform (`cdk-llm-finops/cdktf`): the core gateway on Terraform's AWS provider. cdktf
 * and @cdktf/provider-aws are optional peer dependencies; CDK users never load this entry point.
 */
export * from './alert-topic';
export * from './budget';
export * from './llm-gateway';
export * from './quota-table';
export * from './platform';
export { GatewayConfig } from '../gateway/gateway-config';
export type { GatewayConfigDocument } from '../../lambda/contract';
