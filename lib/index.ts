export * from './cache/semantic-cache';
export * from './gateway/llm-gateway';
export * from './gateway/router-function';
export * from './platform/reference-platform-stack';
export * from './quota/token-quota-table';
export * from './platform/cost-managed-ai-platform';
export type { GatewayConfigDocument } from '../lambda/contract';
