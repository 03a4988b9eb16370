import { Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/** cdk-nag: the only managed policy on our functions is the basic execution role, which writes their own logs. */
export function acknowledgeBasicExecutionRole(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: "AWSLambdaBasicExecutionRole only grants writing the function's own CloudWatch Logs.",
  });
}
