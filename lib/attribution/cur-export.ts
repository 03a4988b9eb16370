import { Annotations, CfnRule, Duration, Fn, PhysicalName, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as bcm from 'aws-cdk-lib/aws-bcmdataexports';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogsBucket, privateBucket } from './buckets';
import { CUR_COLUMNS, FOCUS_COLUMNS } from './schema';
import type { ExportLocation } from './cost-attribution';

export interface CurExportProps {
  /**
   * The bucket the exports write to. It may be in another region (the attribution stack's): pass it with
   * `s3.Bucket.fromBucketAttributes(this, 'B', { bucketName, region })` and add `CurExport.bucketPolicyStatements` to
   * its policy there. Made here when absent.
   * @default - a new bucket in this stack (us-east-1)
   */
  readonly bucket?: s3.IBucket;

  /** @default 'cur' */
  readonly prefix?: string;

  /**
   * Export name; changing it (or the column list or table settings) replaces the export.
   * @default 'llm-finops-cur2'
   */
  readonly exportName?: string;

  /**
   * Also a FOCUS 1.2 export (`FOCUS_1_2_AWS`).
   * @default false
   */
  readonly focus?: boolean;

  /** @default 'llm-finops-focus' */
  readonly focusExportName?: string;

  /**
   * Line items per hour or per day.
   * @default 'HOURLY'
   */
  readonly timeGranularity?: string;
}

/**
 * The CUR 2.0 export (AWS Data Exports, `AWS::BCMDataExports::Export`) with an explicit column list (Data Exports
 * refuses SELECT *), resource ids, split cost allocation data and IAM principal data on, Parquet, overwritten daily;
 * optionally a FOCUS 1.2 export. Data Exports exists in us-east-1 only, so this construct must be in a us-east-1
 * stack: it refuses another region at synth, and an environment-agnostic stack gets a deploy-time rule that fails
 * anywhere else. The bucket may be in any region.
 */
export class CurExport extends Construct {
  /** The bucket-policy statements Data Exports needs on a bucket (for a bucket made elsewhere). */
  static bucketPolicyStatements(bucketArn: string, account: string, partition = 'aws'): iam.PolicyStatement[] {
    const conditions = {
      StringLike: { 'aws:SourceArn': [`arn:${partition}:cur:us-east-1:${account}:definition/*`, `arn:${partition}:bcm-data-exports:us-east-1:${account}:export/*`] },
      StringEquals: { 'aws:SourceAccount': account },
    };
    return [new iam.PolicyStatement({
      sid: 'AllowDataExportsWrite',
      principals: [new iam.ServicePrincipal('bcm-data-exports.amazonaws.com'), new iam.ServicePrincipal('billingreports.amazonaws.com')],
      actions: ['s3:PutObject', 's3:GetBucketPolicy'],
      resources: [bucketArn, `${bucketArn}/*`],
      conditions,
    })];
  }

  readonly bucket: s3.IBucket;
  readonly cur: bcm.CfnExport;
  readonly focus?: bcm.CfnExport;
  /** Where the CUR export lands, for CostAttribution's `cur`. */
  readonly curLocation: ExportLocation;
  /** Where the FOCUS export lands, for CostAttribution's `focus`. */
  readonly focusLocation?: ExportLocation;

  constructor(scope: Construct, id: string, props: CurExportProps = {}) {
    super(scope, id);
    const prefix = (props.prefix ?? 'cur').replace(/^\/+|\/+$/g, '');
    const curName = props.exportName ?? 'llm-finops-cur2';
    const focusName = props.focusExportName ?? 'llm-finops-focus';
    const granularity = props.timeGranularity ?? 'HOURLY';
    this.checkProps(curName, focusName, granularity);
    this.bucket = props.bucket ? this.admitToBucket(props.bucket) : this.buildBucket();
    const destination: bcm.CfnExport.DestinationConfigurationsProperty = {
      s3Destination: {
        s3Bucket: this.bucket.bucketName,
        s3Prefix: prefix,
        s3Region: this.bucket.env.region,
        s3OutputConfigurations: { outputType: 'CUSTOM', format: 'PARQUET', compression: 'PARQUET', overwrite: 'OVERWRITE_REPORT' },
      },
    };
    this.cur = this.buildCurExport(curName, granularity, destination);
    this.curLocation = { bucket: this.bucket, prefix, exportName: curName };
    if (props.focus) {
      this.focus = new bcm.CfnExport(this, 'Focus', {
        export: {
          name: focusName,
          description: 'cdk-llm-finops: FOCUS 1.2 with AWS columns',
          dataQuery: { queryStatement: `SELECT ${FOCUS_COLUMNS.map((c) => c.name).join(', ')} FROM FOCUS_1_2_AWS`, tableConfigurations: { FOCUS_1_2_AWS: { TIME_GRANULARITY: granularity } } },
          destinationConfigurations: destination,
          refreshCadence: { frequency: 'SYNCHRONOUS' },
        },
      });
      this.focusLocation = { bucket: this.bucket, prefix, exportName: focusName };
    }
    for (const e of [this.cur, this.focus]) {
      const policy = this.bucket.node.tryFindChild('Policy');
      if (e && policy) e.node.addDependency(policy);
    }
  }

  /** Names, granularity and Region; an unresolved Region gets a template rule that refuses any but us-east-1. */
  private checkProps(curName: string, focusName: string, granularity: string): void {
    const stack = Stack.of(this);
    const problems: string[] = [];
    if (!Token.isUnresolved(stack.region) && stack.region !== 'us-east-1') {
      problems.push(`region: AWS Data Exports exists in us-east-1 only; put CurExport in a us-east-1 stack (this one is ${stack.region}) and point it at a bucket in any region`);
    }
    for (const [f, n] of [['exportName', curName], ['focusExportName', focusName]]) if (!/^[A-Za-z0-9_-]{1,128}$/.test(n)) problems.push(`${f}: letters, digits, '_' and '-', got '${n}'`);
    if (!['HOURLY', 'DAILY'].includes(granularity)) problems.push(`timeGranularity: HOURLY or DAILY, got '${granularity}'`);
    if (problems.length) throw new Error(`Invalid CurExport props:\n  - ${problems.join('\n  - ')}`);
    if (Token.isUnresolved(stack.region)) {
      new CfnRule(this, 'UsEast1Only', {
        assertions: [{ assert: Fn.conditionEquals(stack.region, 'us-east-1'), assertDescription: 'CurExport: AWS Data Exports exists in us-east-1 only; deploy this stack there.' }],
      });
    }
  }

  /** Your bucket: the Data Exports statements added to its policy, or a warning when it was imported. */
  private admitToBucket(bucket: s3.IBucket): s3.IBucket {
    const stack = Stack.of(this);
    const added = CurExport.bucketPolicyStatements(bucket.bucketArn, stack.account, stack.partition).every((st) => bucket.addToResourcePolicy(st).statementAdded);
    if (!added) Annotations.of(this).addWarningV2('cdk-llm-finops:importedCurBucket', 'The export bucket was imported: add CurExport.bucketPolicyStatements(...) to its policy where it is defined, or Data Exports cannot write.');
    return bucket;
  }

  /** A private, versioned, access-logged bucket kept on delete, whose policy admits Data Exports. */
  private buildBucket(): s3.IBucket {
    const stack = Stack.of(this);
    const logs = accessLogsBucket(this, 'AccessLogs', { removalPolicy: RemovalPolicy.RETAIN });
    const bucket = privateBucket(this, 'Bucket', {
      versioned: true, serverAccessLogsBucket: logs, serverAccessLogsPrefix: 'exports/', removalPolicy: RemovalPolicy.RETAIN,
      // A name fixed at synth when another environment refers to it: CostAttribution in another Region reads this
      // bucket (Data Exports runs in us-east-1 only), which a CloudFormation export cannot carry across Regions.
      bucketName: PhysicalName.GENERATE_IF_NEEDED,
      // Data Exports overwrites each billing period's files daily (OVERWRITE_REPORT): without this every old copy
      // stays forever as a noncurrent version.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    for (const st of CurExport.bucketPolicyStatements(bucket.bucketArn, stack.account, stack.partition)) bucket.addToResourcePolicy(st);
    return bucket;
  }

  /** The CUR 2.0 export: the columns attribution reads, resources and IAM principals included, Parquet, overwritten daily. */
  private buildCurExport(name: string, granularity: string, destination: bcm.CfnExport.DestinationConfigurationsProperty): bcm.CfnExport {
    return new bcm.CfnExport(this, 'Cur', {
      export: {
        name,
        description: 'cdk-llm-finops: CUR 2.0 for Bedrock and SageMaker attribution',
        dataQuery: {
          queryStatement: `SELECT ${CUR_COLUMNS.map((c) => c.name).join(', ')} FROM COST_AND_USAGE_REPORT`,
          tableConfigurations: {
            COST_AND_USAGE_REPORT: {
              TIME_GRANULARITY: granularity,
              INCLUDE_RESOURCES: 'TRUE',
              INCLUDE_SPLIT_COST_ALLOCATION_DATA: 'TRUE',
              INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY: 'FALSE',
              INCLUDE_IAM_PRINCIPAL_DATA: 'TRUE',
            },
          },
        },
        destinationConfigurations: destination,
        refreshCadence: { frequency: 'SYNCHRONOUS' },
      },
    });
  }
}
