import { Annotations, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  BATCH_LOG_TYPES, BATCH_TABLE, ENV_BATCH_BUCKET, ENV_BATCH_RETENTION_DAYS, ENV_BATCH_ROLE_ARN, ENV_BATCH_TABLE, METRICS_NAMESPACE,
} from '../../lambda/contract';
import { accessLogsBucket, privateBucket } from '../attribution/buckets';
import { bedrockModelArns } from '../gateway/config-resources';
import type { LlmGateway } from '../gateway/llm-gateway';

/** The lane's settings (CostManagedAiPlatform's `batchLane`). */
export interface BatchLaneOptions {
  /**
   * How long files, batches and results are kept: the bucket's lifecycle and the table's TTL (after a batch's own
   * 24-hour window). Batch output is the only copy of a batch's answers: download it within this time.
   * @default Duration.days(30)
   */
  readonly retention?: Duration;

  /**
   * How often the poller sweeps for batches whose jobs ended without an event reaching it (Bedrock's job events are
   * best effort) and for OpenAI batch jobs, which send none.
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;

  /**
   * What happens to the bucket and the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export interface BatchLaneProps extends BatchLaneOptions {
  /** The gateway whose router serves the batch API and whose config names the models batches may use. */
  readonly gateway: LlmGateway;

  /**
   * Where the alarms for failed and expired jobs and for poller errors notify (the platform's alert topic).
   * @default - alarms without an action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The deferred lane on AWS: the Files, Batch and Message Batches APIs on the gateway, answered by Bedrock batch
 * inference at half the on-demand price (and OpenAI's Batch API for providers with `batchApi`), with quotas held and
 * one usage record per line like every other request.
 *
 * - a bucket (S3-managed encryption, TLS only, no public access, access logs, lifecycle) for uploaded files, job input
 *   and output (`jobs/`), and results too large for a table item;
 * - a table for files, batches (a sparse index of active ones) and each settled line, with point-in-time recovery;
 * - the service role Bedrock assumes to run a job: trusted only for this account's model-invocation jobs, reading and
 *   writing only `jobs/` in the bucket, invoking only the config's Bedrock models;
 * - the poller: a function on the router's code, role and settings (`index.batchPoller`), run by Bedrock's
 *   "Batch Inference Job State Change" events and a scheduled sweep, one run at a time by a lease in the table; it
 *   settles ended jobs line by line and stops before its 15-minute limit (the next run resumes);
 * - alarms: a job that failed or expired, a batch that could not be moved on (logged error), the poller's errors.
 *
 * The router gets the bucket, the table and the job API (create, get, stop) on the config's Bedrock models, and may
 * pass the service role to Bedrock only.
 */
export class BatchLane extends Construct {
  readonly bucket: s3.Bucket;
  readonly table: dynamodb.Table;
  /** The role Bedrock assumes for each batch inference job. */
  readonly serviceRole: iam.Role;
  /** The poller (the router's code, handler `index.batchPoller`). */
  readonly poller: lambda.Function;
  /** Jobs that ended failed or expired (metric filter on the poller's log). */
  readonly failedJobsAlarm: cloudwatch.Alarm;
  /** Batches the poller could not move on (a store or provider error, retried on the next run). */
  readonly batchErrorsAlarm: cloudwatch.Alarm;
  /** Invocations of the poller that failed outright. */
  readonly pollerErrorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BatchLaneProps) {
    super(scope, id);
    const retention = props.retention ?? Duration.days(30);
    const sweep = props.sweepInterval ?? Duration.minutes(5);
    const problems: string[] = [];
    const days = retention.toDays({ integral: false });
    if (!Token.isUnresolved(retention.toSeconds()) && (days < 1 || !Number.isInteger(days))) problems.push(`retention: a whole number of days of at least 1 (the bucket's lifecycle counts days), got ${retention.toHumanString()}`);
    if (sweep.toMinutes({ integral: false }) < 1 || !Number.isInteger(sweep.toMinutes({ integral: false }))) problems.push(`sweepInterval: a whole number of minutes of at least 1 (an EventBridge rate), got ${sweep.toHumanString()}`);
    if (problems.length) throw new Error(`Invalid BatchLane props:\n  - ${problems.join('\n  - ')}`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const router = props.gateway.router.function;

    const accessLogs = accessLogsBucket(this, 'AccessLogs', { lifecycleRules: [{ expiration: Duration.days(90) }], removalPolicy });
    this.bucket = privateBucket(this, 'Bucket', {
      serverAccessLogsBucket: accessLogs, serverAccessLogsPrefix: 'batch/', removalPolicy,
      lifecycleRules: [{ expiration: retention, abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: BATCH_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: BATCH_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: BATCH_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: BATCH_TABLE.ownerIndex,
      partitionKey: { name: BATCH_TABLE.ownerIndexPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: BATCH_TABLE.indexSortKey, type: dynamodb.AttributeType.NUMBER },
    });
    this.table.addGlobalSecondaryIndex({
      indexName: BATCH_TABLE.activeIndex,
      partitionKey: { name: BATCH_TABLE.activeIndexPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: BATCH_TABLE.indexSortKey, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    const modelArns = this.batchModelArns(props.gateway);
    this.serviceRole = this.buildServiceRole(modelArns);
    this.grantRouter(router, modelArns);
    router.addEnvironment(ENV_BATCH_BUCKET, this.bucket.bucketName);
    router.addEnvironment(ENV_BATCH_TABLE, this.table.tableName);
    router.addEnvironment(ENV_BATCH_ROLE_ARN, this.serviceRole.roleArn);
    router.addEnvironment(ENV_BATCH_RETENTION_DAYS, String(Token.isUnresolved(retention.toSeconds()) ? 30 : days));
    props.gateway._addBatchRoutes();

    this.poller = this.buildPoller(router);
    new events.Rule(this, 'JobStateChanges', {
      description: 'cdk-llm-finops: settle a batch when one of its Bedrock batch inference jobs changes state',
      eventPattern: { source: ['aws.bedrock'], detailType: ['Batch Inference Job State Change'] },
      targets: [new targets.LambdaFunction(this.poller, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });
    new events.Rule(this, 'Sweep', {
      description: 'cdk-llm-finops: sweep the active batches (Bedrock job events are best effort; OpenAI batch jobs send none)',
      schedule: events.Schedule.rate(sweep),
      targets: [new targets.LambdaFunction(this.poller, { retryAttempts: 0 })],
    });
    const alarms = this.buildAlarms(sweep);
    this.failedJobsAlarm = alarms.failedJobs;
    this.batchErrorsAlarm = alarms.batchErrors;
    this.pollerErrorsAlarm = alarms.pollerErrors;
    if (props.alarmTopic) for (const a of Object.values(alarms)) a.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
    new CfnOutput(this, 'BatchBucketName', { value: this.bucket.bucketName, description: 'Batch files, Bedrock batch job input and output (jobs/)' });
    Annotations.of(this).addInfoV2('cdk-llm-finops:batchLane',
      'Batches through API Gateway and Lambda take files up to 6 MB (Lambda\'s request payload); output files stream back (past 10 MB at 2 MB/s); ' +
      'Bedrock batch jobs need at least 100 records per model (the per-model quota "Minimum number of records per batch inference job").');
  }

  /** The config's Bedrock models (and their profiles): what jobs may be created on and what the service role may invoke. */
  private batchModelArns(gateway: LlmGateway): string[] {
    const config = gateway._configDocument();
    const stack = Stack.of(this);
    return bedrockModelArns(config, { partition: stack.partition, region: stack.region, account: stack.account });
  }

  /**
   * The role Bedrock assumes for a job (Bedrock user guide, "Create a custom service role for batch inference", read
   * 2026-12-07): trusted by bedrock.amazonaws.com for this account's model-invocation jobs only; the job's input and
   * output under `jobs/` in the lane's bucket (in this account); InvokeModel on the config's models and profiles.
   */
  private buildServiceRole(modelArns: string[]): iam.Role {
    const role = new iam.Role(this, 'ServiceRole', {
      description: 'cdk-llm-finops: assumed by Amazon Bedrock to run the gateway\'s batch inference jobs',
      assumedBy: new iam.ServicePrincipal('bedrock.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:bedrock:${Aws.REGION}:${Aws.ACCOUNT_ID}:model-invocation-job/*` },
        },
      }),
    });
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: [this.bucket.arnForObjects('jobs/*')],
      conditions: { StringEquals: { 'aws:ResourceAccount': Aws.ACCOUNT_ID } },
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      conditions: { StringEquals: { 'aws:ResourceAccount': Aws.ACCOUNT_ID }, StringLike: { 's3:prefix': ['jobs/*'] } },
    }));
    if (modelArns.length) role.addToPolicy(new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources: modelArns }));
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/jobs/*]`,
      reason: 'Bedrock writes each job\'s output under a key it names (the job id): the role reads and writes the lane\'s jobs/ prefix only, in this account.',
    });
    acknowledgeFoundationModelWildcards(role, modelArns);
    return role;
  }

  /** The router (and so the poller, which shares its role): the bucket, the table, the job API, and passing the service role to Bedrock. */
  private grantRouter(router: lambda.Function, modelArns: string[]): void {
    this.bucket.grantReadWrite(router);
    this.table.grantReadWriteData(router);
    const jobs = `arn:${Aws.PARTITION}:bedrock:${Aws.REGION}:${Aws.ACCOUNT_ID}:model-invocation-job/*`;
    router.addToRolePolicy(new iam.PolicyStatement({ actions: ['bedrock:CreateModelInvocationJob'], resources: [...modelArns, jobs] }));
    router.addToRolePolicy(new iam.PolicyStatement({ actions: ['bedrock:GetModelInvocationJob', 'bedrock:StopModelInvocationJob'], resources: [jobs] }));
    router.addToRolePolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [this.serviceRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } },
    }));
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    const tableId = Stack.of(this).getLogicalId(this.table.node.defaultChild as dynamodb.CfnTable);
    for (const [finding, reason] of [
      ['Action::s3:GetObject*', 'grantReadWrite: the router reads the batch files it stored and the jobs\' output.'],
      ['Action::s3:GetBucket*', 'grantReadWrite: the router lists the jobs\' output under the lane\'s bucket.'],
      ['Action::s3:List*', 'grantReadWrite: the router lists the jobs\' output under the lane\'s bucket.'],
      ['Action::s3:DeleteObject*', 'grantReadWrite: the Files API deletes a file the tenant deletes.'],
      ['Action::s3:Abort*', 'grantReadWrite: uploads of large job input may be multipart.'],
      [`Resource::<${bucketId}.Arn>/*`, 'Files, job input and output in the lane\'s own bucket, under keys the router makes per file and batch.'],
      [`Resource::<${tableId}.Arn>/index/*`, 'The lane\'s own table\'s two indexes (files and batches by tenant; active batches).'],
      [`Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:model-invocation-job/*`, 'Batch inference job ids are made by Bedrock at creation; the actions are only create, get and stop.'],
    ] as const) {
      Validations.of(router).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    }
    acknowledgeFoundationModelWildcards(router, modelArns);
  }

  /**
   * The poller: a function of its own on the router's code, layers, role and environment (every binding's variables,
   * read when the template is rendered), with the longest timeout Lambda allows, so a large batch settles in few runs.
   */
  private buildPoller(router: lambda.Function): lambda.Function {
    const fn = new lambda.Function(this, 'Poller', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.batchPoller',
      // Replaced below by the router's own code asset: one upload serves both.
      code: lambda.Code.fromInline('exports.batchPoller = async () => { throw new Error("replaced at synth"); };'),
      memorySize: 1024,
      timeout: Duration.minutes(15),
      role: router.role,
      logGroup: new logs.LogGroup(this, 'PollerLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      description: 'cdk-llm-finops batch poller: settles batches whose provider jobs ended, line by line',
    });
    const own = fn.node.defaultChild as lambda.CfnFunction;
    const routerCfn = router.node.defaultChild as lambda.CfnFunction;
    own.code = routerCfn.code;
    own.environment = routerCfn.environment;
    own.layers = routerCfn.layers;
    return fn;
  }

  /** Metric filters on the poller's log lines (BATCH_LOG_TYPES) and its own error metric, each with an alarm. */
  private buildAlarms(sweep: Duration): { failedJobs: cloudwatch.Alarm; batchErrors: cloudwatch.Alarm; pollerErrors: cloudwatch.Alarm } {
    const logGroup = this.poller.logGroup;
    const failed = new logs.MetricFilter(this, 'FailedJobsFilter', {
      logGroup,
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$._type', '=', BATCH_LOG_TYPES.jobEnded),
        logs.FilterPattern.any(logs.FilterPattern.stringValue('$.state', '=', 'failed'), logs.FilterPattern.stringValue('$.state', '=', 'expired')),
      ),
      metricNamespace: METRICS_NAMESPACE, metricName: 'BatchJobsFailed', metricValue: '1', defaultValue: 0,
    });
    const errors = new logs.MetricFilter(this, 'BatchErrorsFilter', {
      logGroup,
      filterPattern: logs.FilterPattern.stringValue('$._type', '=', BATCH_LOG_TYPES.error),
      metricNamespace: METRICS_NAMESPACE, metricName: 'BatchErrors', metricValue: '1', defaultValue: 0,
    });
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string, evaluationPeriods = 1) => new cloudwatch.Alarm(this, id, {
      alarmDescription: description, metric, threshold: 1, evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const period = Duration.minutes(Math.max(5, sweep.toMinutes()));
    return {
      failedJobs: alarm('FailedJobsAlarm', failed.metric({ statistic: 'Sum', period }),
        'A batch inference job ended failed or expired: its lines are in the batch\'s error file and their hold is released. The poller\'s log (llm_batch_job) names the job and Bedrock\'s message.'),
      // Two sweeps in a row: one transient error is retried on the next run.
      batchErrors: alarm('BatchErrorsAlarm', errors.metric({ statistic: 'Sum', period }),
        'The poller could not move a batch on for two sweeps in a row (a store or provider error): see llm_batch_error in the poller\'s log.', 2),
      pollerErrors: alarm('PollerErrorsAlarm', this.poller.metricErrors({ statistic: 'Sum', period }),
        'The batch poller failed (cold start or unhandled error): active batches are not being settled.'),
    };
  }
}

/** cdk-nag: a cross-region inference profile may serve a request in any region of its geography. */
function acknowledgeFoundationModelWildcards(scope: Construct, modelArns: string[]): void {
  for (const arn of modelArns.filter((a) => a.includes(':bedrock:*::foundation-model/'))) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${arn.split('/').pop()}]`,
      reason: 'Region wildcard only on the foundation-model ARN of a configured model: its cross-region inference profile may serve a job in any region of its geography.',
    });
  }
}
