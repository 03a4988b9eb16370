import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { ENV_USAGE_STREAM } from '../../lambda/contract';
import type { IRouterBinding } from '../gateway/router-binding';

/**
 * Cost attribution made in this stack (`CostAttribution`) or in another stack or app
 * (`CostAttribution.fromCostAttributionAttributes`): where routers deliver usage records and who may query them.
 */
export interface ICostAttribution extends IConstruct {
  /** Name of the Firehose delivery stream the routers put usage records on. */
  readonly deliveryStreamName: string;
  /** ARN of that delivery stream. */
  readonly deliveryStreamArn: string;
  /** The Glue database with the usage, CUR and FOCUS tables. */
  readonly databaseName: string;
  /** The Athena workgroup with the attribution named queries. */
  readonly workGroupName: string;
  /** Where the usage records land as Parquet (usage/dt=yyyy-MM-dd/). */
  readonly usageBucket: s3.IBucket;
  /** Where the workgroup writes query results. */
  readonly resultsBucket: s3.IBucket;
  /** Lets a router deliver usage records here: LLM_FINOPS_USAGE_STREAM and firehose:PutRecord(Batch) on the stream. */
  bindRouter(fn: IRouterBinding): void;
  /** Lets a principal run the saved queries: Athena in the workgroup, Glue reads, S3 reads of the data and results. */
  grantQuery(grantee: iam.IGrantable): void;
}

/** Cost attribution deployed by another stack or app, as its outputs and names give it. */
export interface CostAttributionAttributes {
  /** ARN of the usage-record delivery stream (`arn:aws:firehose:<region>:<account>:deliverystream/<name>`). */
  readonly deliveryStreamArn: string;
  /** The Glue database's name. */
  readonly databaseName: string;
  /** The Athena workgroup's name (output `AttributionWorkGroup` of a CostManagedAiPlatform). */
  readonly workGroupName: string;
  /** The usage bucket (output `UsageBucket`), e.g. `s3.Bucket.fromBucketName(...)`. */
  readonly usageBucket: s3.IBucket;
  /** The query-results bucket. */
  readonly resultsBucket: s3.IBucket;
}

/** What the attribution made here and an imported one share: the router binding and the query grant. */
export abstract class CostAttributionBase extends Construct implements ICostAttribution {
  abstract readonly deliveryStreamName: string;
  abstract readonly deliveryStreamArn: string;
  abstract readonly databaseName: string;
  abstract readonly workGroupName: string;
  abstract readonly usageBucket: s3.IBucket;
  abstract readonly resultsBucket: s3.IBucket;

  /**
   * Lets a router function deliver usage records here: sets LLM_FINOPS_USAGE_STREAM and grants
   * firehose:PutRecordBatch (and PutRecord) on the delivery stream only.
   */
  bindRouter(fn: IRouterBinding): void {
    fn.addEnvironment(ENV_USAGE_STREAM, this.deliveryStreamName);
    iam.Grant.addToPrincipal({ grantee: { grantPrincipal: fn.grantPrincipal }, actions: ['firehose:PutRecordBatch', 'firehose:PutRecord'], resourceArns: [this.deliveryStreamArn] });
  }

  /** Lets a principal run the saved queries: Athena in this workgroup, Glue reads, S3 reads of the data and results. */
  grantQuery(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution', 'athena:GetNamedQuery', 'athena:ListNamedQueries', 'athena:GetWorkGroup'],
      resourceArns: [`arn:${stack.partition}:athena:${stack.region}:${stack.account}:workgroup/${this.workGroupName}`],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'],
      resourceArns: [
        `arn:${stack.partition}:glue:${stack.region}:${stack.account}:catalog`,
        `arn:${stack.partition}:glue:${stack.region}:${stack.account}:database/${this.databaseName}`,
        `arn:${stack.partition}:glue:${stack.region}:${stack.account}:table/${this.databaseName}/*`,
      ],
    });
    this.usageBucket.grantRead(grantee);
    this.resultsBucket.grantReadWrite(grantee);
  }
}
