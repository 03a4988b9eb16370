import { Aws, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogsBucket, privateBucket } from './buckets';
import { ATTRIBUTION_QUERIES, renderQuery } from './queries';
import { CUR_COLUMNS, CUR_PARTITION, curResourceTagKey, FOCUS_COLUMNS, USAGE_COLUMNS, USAGE_PARTITION } from './schema';
import { type CostAttributionAttributes, CostAttributionBase, type ICostAttribution } from './cost-attribution-base';
import { ImportedCostAttribution } from './imported-cost-attribution';

/** Where an AWS Data Exports export (CUR 2.0 or FOCUS) writes, so Athena can read it. */
export interface ExportLocation {
  /** The export's bucket (in this stack's region, or any region Athena here can read). */
  readonly bucket: s3.IBucket;
  /** The export's S3 prefix. */
  readonly prefix: string;
  /** The export's name: Data Exports writes under `<prefix>/<name>/data/<partition folder>=yyyy-MM/`. */
  readonly exportName: string;

  /**
   * The name of the export's partition folder under `data/`. The Data Exports guide documents `BILLING_PERIOD=YYYY-MM`
   * for CUR 2.0 (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html) and says the
   * partition "corresponds to the table that is being queried": check a FOCUS export's first delivery and set it
   * here if it differs.
   * @default 'BILLING_PERIOD'
   */
  readonly partitionFolder?: string;
}

export interface CostAttributionProps {
  /**
   * Name of the Glue database (letters, digits, underscore).
   * @default - derived from the construct path
   */
  readonly databaseName?: string;

  /**
   * The CUR 2.0 export to query (see CurExport): adds the `cur` table and the queries that read it.
   * @default - usage-log queries only
   */
  readonly cur?: ExportLocation;

  /**
   * The FOCUS 1.2 export: adds the `focus` table and the FOCUS view over it.
   * @default - the FOCUS view of external providers from the usage log only
   */
  readonly focus?: ExportLocation;

  /**
   * The cost allocation tag keys naming tenant, feature and team (on Bedrock application inference profiles,
   * endpoints and other resources).
   * @default 'llm-finops:tenant', 'llm-finops:feature', 'llm-finops:team'
   */
  readonly tenantTagKey?: string;
  readonly featureTagKey?: string;
  readonly teamTagKey?: string;

  /**
   * Athena stops any query of the workgroup that would scan more than this many bytes.
   * @default 10 GiB (about $0.05 at $5/TB)
   */
  readonly bytesScannedCutoffPerQuery?: number;

  /**
   * How long Athena query results are kept.
   * @default Duration.days(30)
   */
  readonly queryResultsRetention?: Duration;

  /**
   * How long usage records are kept in S3.
   * @default - forever (transition to Standard-IA after 90 days)
   */
  readonly usageRetention?: Duration;

  /**
   * Firehose buffer: records reach S3 after this long or this much data. Parquet conversion needs at least 64 MiB.
   * @default Duration.minutes(5)
   */
  readonly bufferInterval?: Duration;

  /** @default RemovalPolicy.RETAIN (the usage bucket holds the audit trail of spend) */
  readonly removalPolicy?: RemovalPolicy;
}

const DAY_FORMAT = 'yyyy-MM-dd';

/**
 * Cost attribution on AWS: the router's usage records through Amazon Data Firehose (direct put) into S3 as Parquet
 * partitioned by day, a Glue table with partition projection (no crawler), Glue tables over the CUR 2.0 / FOCUS
 * exports, and an Athena workgroup (enforced settings, a bytes-scanned cutoff, encrypted results that expire) with
 * the attribution named queries: the SQL `llm-finops report` runs locally on DuckDB.
 */
export class CostAttribution extends CostAttributionBase {
  /**
   * Cost attribution another stack or app deployed: a router here delivers its usage records to the same stream, and
   * a role here may run the same queries. The stream must be in this stack's Region and account.
   */
  static fromCostAttributionAttributes(scope: Construct, id: string, attrs: CostAttributionAttributes): ICostAttribution {
    return new ImportedCostAttribution(scope, id, attrs);
  }

  readonly usageBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly usageTable: glue.CfnTable;
  readonly curTable?: glue.CfnTable;
  readonly focusTable?: glue.CfnTable;
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly workGroup: athena.CfnWorkGroup;
  /** The saved queries by name (spend-by-dimension, unit-economics, savings, ...). */
  readonly namedQueries: Record<string, athena.CfnNamedQuery> = {};

  /** Name of the Firehose delivery stream the routers put usage records on. */
  get deliveryStreamName(): string {
    return this.deliveryStream.ref;
  }

  /** ARN of that delivery stream. */
  get deliveryStreamArn(): string {
    return this.deliveryStream.attrArn;
  }

  /** The Athena workgroup's name. */
  get workGroupName(): string {
    return this.workGroup.ref;
  }

  constructor(scope: Construct, id: string, props: CostAttributionProps = {}) {
    super(scope, id);
    this.databaseName = props.databaseName ?? Names.uniqueResourceName(this, { maxLength: 60, separator: '_' }).toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const cutoff = props.bytesScannedCutoffPerQuery ?? 10 * 1024 ** 3;
    const buffer = (props.bufferInterval ?? Duration.minutes(5)).toSeconds();
    this.validate(props, cutoff, buffer);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const buckets = this.buildBuckets(props, removalPolicy);
    this.accessLogsBucket = buckets.accessLogs;
    this.usageBucket = buckets.usage;
    this.resultsBucket = buckets.results;
    const catalog = this.buildCatalog(props);
    this.database = catalog.database;
    this.usageTable = catalog.usageTable;
    this.curTable = catalog.curTable;
    this.focusTable = catalog.focusTable;
    this.deliveryStream = this.buildDelivery(buffer);
    this.workGroup = this.buildQueries(props, cutoff);
  }

  private validate(props: CostAttributionProps, cutoff: number, buffer: number): void {
    const problems: string[] = [];
    if (!/^[a-z0-9_]{1,255}$/.test(this.databaseName)) problems.push(`databaseName: lower-case letters, digits and '_' only, got '${this.databaseName}'`);
    if (!Number.isInteger(cutoff) || cutoff < 10_000_000) problems.push(`bytesScannedCutoffPerQuery: at least 10,000,000 bytes (Athena's minimum), got ${cutoff}`);
    if (buffer < 60 || buffer > 900) problems.push(`bufferInterval: 1-15 minutes, got ${buffer} s`);
    for (const [field, loc] of [['cur', props.cur], ['focus', props.focus]] as const) {
      if (loc && !Token.isUnresolved(loc.exportName) && !/^[A-Za-z0-9_-]{1,128}$/.test(loc.exportName)) problems.push(`${field}.exportName: letters, digits, '_' and '-', got '${loc.exportName}'`);
    }
    if (problems.length) throw new Error(`Invalid CostAttribution props:\n  - ${problems.join('\n  - ')}`);
  }

  /** Buckets: TLS only, no public access, S3-managed encryption, access logs to a bucket of their own. */
  private buildBuckets(props: CostAttributionProps, removalPolicy: RemovalPolicy): { accessLogs: s3.Bucket; usage: s3.Bucket; results: s3.Bucket } {
    const accessLogs = accessLogsBucket(this, 'AccessLogs', { lifecycleRules: [{ expiration: Duration.days(365) }], removalPolicy });
    const usage = privateBucket(this, 'Usage', {
      versioned: false,
      serverAccessLogsBucket: accessLogs, serverAccessLogsPrefix: 'usage/', removalPolicy,
      lifecycleRules: [{
        transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(90) }],
        ...(props.usageRetention ? { expiration: props.usageRetention } : {}),
      }],
    });
    const results = privateBucket(this, 'QueryResults', {
      serverAccessLogsBucket: accessLogs, serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: props.queryResultsRetention ?? Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
    });

    return { accessLogs, usage, results };
  }

  /** Glue: the database and the usage table (partition projection on the delivery day: no crawler, no MSCK), and the exports' tables. */
  private buildCatalog(props: CostAttributionProps): { database: glue.CfnDatabase; usageTable: glue.CfnTable; curTable?: glue.CfnTable; focusTable?: glue.CfnTable } {
    const database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: this.databaseName, description: 'cdk-llm-finops cost attribution: gateway usage log, CUR 2.0 and FOCUS exports' },
    });
    const usageLocation = `s3://${this.usageBucket.bucketName}/usage/`;
    const usageTable = this.parquetTable(database, 'UsageTable', 'usage_log', usageLocation, USAGE_COLUMNS, USAGE_PARTITION, {
      [`projection.${USAGE_PARTITION}.type`]: 'date',
      [`projection.${USAGE_PARTITION}.format`]: DAY_FORMAT,
      [`projection.${USAGE_PARTITION}.range`]: '2025-01-01,NOW',
      [`projection.${USAGE_PARTITION}.interval`]: '1',
      [`projection.${USAGE_PARTITION}.interval.unit`]: 'DAYS',
      'storage.location.template': `${usageLocation}${USAGE_PARTITION}=\${${USAGE_PARTITION}}/`,
    }, 'One usage record per gateway request (lambda/core/usage.ts), delivered by Firehose');
    let curTable: glue.CfnTable | undefined;
    let focusTable: glue.CfnTable | undefined;
    for (const [key, loc, columns, table] of [['cur', props.cur, CUR_COLUMNS, 'cur'], ['focus', props.focus, FOCUS_COLUMNS, 'focus']] as const) {
      if (!loc) continue;
      if (loc.partitionFolder !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(loc.partitionFolder)) {
        throw new Error(`Invalid CostAttribution props:\n  - ${key}.partitionFolder: letters, digits and _ (as the export's folder is named), got '${loc.partitionFolder}'`);
      }
      const base = `s3://${loc.bucket.bucketName}/${loc.prefix.replace(/^\/+|\/+$/g, '')}/${loc.exportName}/data/`;
      const t = this.parquetTable(database, key === 'cur' ? 'CurTable' : 'FocusTable', table, base, columns, CUR_PARTITION, {
        [`projection.${CUR_PARTITION}.type`]: 'date',
        [`projection.${CUR_PARTITION}.format`]: 'yyyy-MM',
        [`projection.${CUR_PARTITION}.range`]: '2025-01,NOW',
        [`projection.${CUR_PARTITION}.interval`]: '1',
        [`projection.${CUR_PARTITION}.interval.unit`]: 'MONTHS',
        'storage.location.template': `${base}${loc.partitionFolder ?? 'BILLING_PERIOD'}=\${${CUR_PARTITION}}/`,
      }, key === 'cur' ? 'CUR 2.0 (AWS Data Exports), one folder per billing period' : 'FOCUS 1.2 (AWS Data Exports), one folder per billing period');
      if (key === 'cur') curTable = t;
      else focusTable = t;
    }

    return { database, usageTable, curTable, focusTable };
  }

  /** Firehose: direct put -> Parquet (schema from the Glue table) -> s3://usage/usage/dt=yyyy-MM-dd/, with a put-only role. */
  private buildDelivery(buffer: number): firehose.CfnDeliveryStream {
    const stack = Stack.of(this);
    const firehoseLogs = new logs.LogGroup(this, 'DeliveryLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const firehoseLogStream = new logs.LogStream(this, 'DeliveryLogStream', { logGroup: firehoseLogs, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': stack.account } } }),
      description: 'Firehose: write usage records to the usage bucket as Parquet, reading the schema from Glue',
    });
    // Put-only on the usage prefixes: the actions Firehose's S3 destination needs
    // (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3), never DeleteObject, so
    // the delivery role cannot erase the usage audit trail.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject'],
      resources: [this.usageBucket.arnForObjects('usage/*'), this.usageBucket.arnForObjects('usage-errors/*')],
    }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [this.usageBucket.bucketArn] }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'],
      resources: [
        `arn:${stack.partition}:glue:${stack.region}:${stack.account}:catalog`,
        `arn:${stack.partition}:glue:${stack.region}:${stack.account}:database/${this.databaseName}`,
        `arn:${stack.partition}:glue:${stack.region}:${stack.account}:table/${this.databaseName}/usage_log`,
      ],
    }));
    firehoseLogs.grantWrite(role);
    const day = `!{timestamp:${DAY_FORMAT}}`;
    const stream = new firehose.CfnDeliveryStream(this, 'Delivery', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: this.usageBucket.bucketArn,
        roleArn: role.roleArn,
        prefix: `usage/${USAGE_PARTITION}=${day}/`,
        errorOutputPrefix: `usage-errors/!{firehose:error-output-type}/${USAGE_PARTITION}=${day}/`,
        bufferingHints: { intervalInSeconds: buffer, sizeInMBs: 128 },
        // Parquet compresses itself (Snappy); Firehose's own compression must be off with format conversion.
        compressionFormat: 'UNCOMPRESSED',
        cloudWatchLoggingOptions: { enabled: true, logGroupName: firehoseLogs.logGroupName, logStreamName: firehoseLogStream.logStreamName },
        dataFormatConversionConfiguration: {
          enabled: true,
          inputFormatConfiguration: { deserializer: { openXJsonSerDe: { caseInsensitive: false } } },
          outputFormatConfiguration: { serializer: { parquetSerDe: { compression: 'SNAPPY' } } },
          schemaConfiguration: { catalogId: stack.account, databaseName: this.databaseName, tableName: 'usage_log', region: stack.region, roleArn: role.roleArn, versionId: 'LATEST' },
        },
      },
    });
    stream.node.addDependency(role, this.usageTable);

    const bucketId = stack.getLogicalId(this.usageBucket.node.defaultChild as s3.CfnBucket);
    Validations.of(role).acknowledge(
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/usage/*]`, reason: 'Objects under the usage/ prefix, one per Firehose delivery.' },
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/usage-errors/*]`, reason: 'Records Firehose could not convert, kept for inspection.' },
    );
    return stream;
  }

  /** Athena: a workgroup whose settings queries cannot override, and the named queries the sources allow. */
  private buildQueries(props: CostAttributionProps, cutoff: number): athena.CfnWorkGroup {
    const workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: `${this.databaseName.replace(/_/g, '-')}-attribution`.slice(0, 128),
      description: 'cdk-llm-finops cost attribution queries',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        bytesScannedCutoffPerQuery: cutoff,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: { outputLocation: `s3://${this.resultsBucket.bucketName}/results/`, encryptionConfiguration: { encryptionOption: 'SSE_S3' } },
      },
    });
    const tables: Record<string, string> = { usage: `"${this.databaseName}"."usage_log"`, cur: `"${this.databaseName}"."cur"`, focus: `"${this.databaseName}"."focus"` };
    const tenantTag = props.tenantTagKey ?? 'llm-finops:tenant';
    const featureTag = props.featureTagKey ?? 'llm-finops:feature';
    const teamTag = props.teamTagKey ?? 'llm-finops:team';
    const values = {
      ...tables,
      tenant_tag: curResourceTagKey(tenantTag), feature_tag: curResourceTagKey(featureTag), team_tag: curResourceTagKey(teamTag),
      focus_tenant_tag: `user:${tenantTag}`, focus_feature_tag: `user:${featureTag}`, focus_team_tag: `user:${teamTag}`,
    };
    const have = new Set(['usage', ...(props.cur ? ['cur'] : []), ...(props.focus ? ['focus'] : [])]);
    for (const q of ATTRIBUTION_QUERIES) {
      if (!q.needs.every((t) => have.has(t))) continue;
      if (q.name === 'focus-gateway' && have.has('focus')) continue;
      const nq = new athena.CfnNamedQuery(this, `Query-${q.name}`, {
        name: `llm-finops ${q.name}`,
        description: q.description,
        database: this.databaseName,
        workGroup: workGroup.ref,
        queryString: renderQuery(q.sql, values),
      });
      nq.node.addDependency(this.database);
      this.namedQueries[q.name] = nq;
    }

    return workGroup;
  }

  private parquetTable(database: glue.CfnDatabase, id: string, name: string, location: string, columns: ReadonlyArray<{ name: string; type: string }>, partition: string, projection: Record<string, string>, description: string): glue.CfnTable {
    const t = new glue.CfnTable(this, id, {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: {
        name,
        description,
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'parquet', 'projection.enabled': 'true', ...projection },
        partitionKeys: [{ name: partition, type: 'string' }],
        storageDescriptor: {
          location,
          columns: columns.map((c) => ({ name: c.name.toLowerCase(), type: c.type })),
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        },
      },
    });
    t.node.addDependency(database);
    return t;
  }
}
