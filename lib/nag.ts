import { Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/** cdk-nag: the only managed policy on our functions is the basic execution role, which writes their own logs. */
export function acknowledgeBasicExecutionRole(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: "AWSLambdaBasicExecutionRole only grants writing the function's own CloudWatch Logs.",
  });
}

/**
 * cdk-nag: publishing to a KMS-encrypted SNS topic needs kms:GenerateDataKey* (the action family, on that one key);
 * the wildcard is in the action name, not the resource.
 */
export function acknowledgeTopicKeyGrant(grantee: IConstruct): void {
  Validations.of(grantee).acknowledge({
    id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    reason: 'Publishing to the KMS-encrypted alert topic needs kms:GenerateDataKey* on that one key (the SNS grant CDK generates).',
  });
}
