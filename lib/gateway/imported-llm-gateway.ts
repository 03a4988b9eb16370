// Internal: what LlmGateway.fromLlmGatewayAttributes returns (as an ILlmGateway); lib/index.ts does not export it.
import { Stack, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { type LlmGatewayAttributes, LlmGatewayBase } from './llm-gateway-base';

/** A gateway deployed elsewhere, known by its API and its router's log group. */
export class ImportedLlmGateway extends LlmGatewayBase {
  readonly restApiId: string;
  readonly restApiName: string;
  readonly stageName: string;
  readonly baseUrl: string;
  readonly routerLogGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, attrs: LlmGatewayAttributes) {
    super(scope, id);
    const problems: string[] = [];
    for (const [name, value] of Object.entries({ restApiId: attrs.restApiId, restApiName: attrs.restApiName, routerLogGroupName: attrs.routerLogGroupName })) {
      if (typeof value !== 'string' || (!Token.isUnresolved(value) && !value.trim())) problems.push(`${name}: expected a non-empty string`);
    }
    if (!Token.isUnresolved(attrs.restApiId) && !/^[a-z0-9]{10}$/.test(attrs.restApiId ?? '')) problems.push(`restApiId: expected API Gateway's 10-character id, got '${attrs.restApiId}'`);
    if (problems.length) throw new Error(`LlmGateway.fromLlmGatewayAttributes:\n  - ${problems.join('\n  - ')}`);
    const stack = Stack.of(this);
    this.restApiId = attrs.restApiId;
    this.restApiName = attrs.restApiName;
    this.stageName = attrs.stageName ?? 'prod';
    this.baseUrl = attrs.baseUrl ?? `https://${attrs.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${this.stageName}/v1`;
    this.routerLogGroup = logs.LogGroup.fromLogGroupName(this, 'RouterLogs', attrs.routerLogGroupName);
  }
}
