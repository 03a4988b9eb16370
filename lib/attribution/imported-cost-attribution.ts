// Internal: what CostAttribution.fromCostAttributionAttributes returns (as an ICostAttribution); lib/index.ts does not export it.
import { Arn, ArnFormat, Token } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { type CostAttributionAttributes, CostAttributionBase } from './cost-attribution-base';

/** Cost attribution deployed elsewhere, known by its stream, catalog, workgroup and buckets. */
export class ImportedCostAttribution extends CostAttributionBase {
  readonly deliveryStreamName: string;
  readonly deliveryStreamArn: string;
  readonly databaseName: string;
  readonly workGroupName: string;
  readonly usageBucket: s3.IBucket;
  readonly resultsBucket: s3.IBucket;

  constructor(scope: Construct, id: string, attrs: CostAttributionAttributes) {
    super(scope, id);
    const problems: string[] = [];
    const arn = attrs.deliveryStreamArn;
    if (typeof arn !== 'string' || (!Token.isUnresolved(arn) && !/^arn:aws[a-z-]*:firehose:[a-z0-9-]+:\d{12}:deliverystream\/[A-Za-z0-9_.-]{1,64}$/.test(arn))) {
      problems.push(`deliveryStreamArn: expected a Firehose delivery stream ARN, got '${arn}'`);
    }
    if (typeof attrs.databaseName !== 'string' || (!Token.isUnresolved(attrs.databaseName) && !/^[a-z0-9_]{1,255}$/.test(attrs.databaseName))) {
      problems.push(`databaseName: expected a Glue database name (lower-case letters, digits, _), got '${attrs.databaseName}'`);
    }
    if (typeof attrs.workGroupName !== 'string' || (!Token.isUnresolved(attrs.workGroupName) && !/^[A-Za-z0-9._-]{1,128}$/.test(attrs.workGroupName))) {
      problems.push(`workGroupName: expected an Athena workgroup name, got '${attrs.workGroupName}'`);
    }
    if (!attrs.usageBucket) problems.push('usageBucket: required (s3.Bucket.fromBucketName(...))');
    if (!attrs.resultsBucket) problems.push('resultsBucket: required (s3.Bucket.fromBucketName(...))');
    if (problems.length) throw new Error(`CostAttribution.fromCostAttributionAttributes:\n  - ${problems.join('\n  - ')}`);
    this.deliveryStreamArn = arn;
    this.deliveryStreamName = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME).resourceName!;
    this.databaseName = attrs.databaseName;
    this.workGroupName = attrs.workGroupName;
    this.usageBucket = attrs.usageBucket;
    this.resultsBucket = attrs.resultsBucket;
  }
}
