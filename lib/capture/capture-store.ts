import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV_CAPTURE_BUCKET } from '../../lambda/contract';
import { accessLogsBucket, privateBucket } from '../attribution/buckets';
import type { IRouterBinding } from '../gateway/router-binding';

/** The key prefix the router writes captured examples under (the Lambda's S3CaptureSink). */
const CAPTURE_PREFIX = 'capture/';

/** The capture store's settings (CostManagedAiPlatform's `capture`). */
export interface CaptureStoreOptions {
  /**
   * How long captured examples are kept: the bucket's lifecycle deletes each object this long after it was written.
   * Training data holds what users wrote, scrubbed but not proven free of personal data: keep it no longer than you
   * need to train.
   * @default Duration.days(90)
   */
  readonly retention?: Duration;

  /**
   * The KMS key that encrypts the examples (the bucket's default encryption, with an S3 Bucket Key).
   * @default - a customer managed key made here, with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the bucket (and a key made here) when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where the gateway keeps training data for the small-model path (the config's `capture`): a private bucket encrypted
 * with a KMS key (TLS only, no public access, access logs, a lifecycle that deletes examples after `retention`). The
 * router, once bound, may only put objects under `capture/` and use the key to encrypt them; it can read nothing back.
 * Reading them (to train) is granted separately, with `grantRead`.
 *
 * Nothing is captured until the gateway config opts a feature in (`capture.features`) and a tenant consents
 * (`tenants[].captureConsent`); what is captured is scrubbed before it is written (docs/small-model.md).
 */
export class CaptureStore extends Construct {
  readonly bucket: s3.Bucket;
  readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: CaptureStoreOptions = {}) {
    super(scope, id);
    const retention = props.retention ?? Duration.days(90);
    const days = retention.toDays({ integral: false });
    if (!Token.isUnresolved(retention.toSeconds()) && (days < 1 || !Number.isInteger(days))) {
      throw new Error(`Invalid CaptureStore props:\n  - retention: a whole number of days of at least 1 (the bucket's lifecycle counts days), got ${retention.toHumanString()}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', {
      description: 'cdk-llm-finops: training data captured for the small-model path',
      enableKeyRotation: true,
      removalPolicy,
    });
    const accessLogs = accessLogsBucket(this, 'AccessLogs', { lifecycleRules: [{ expiration: Duration.days(90) }], removalPolicy });
    this.bucket = privateBucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'capture/',
      lifecycleRules: [{ expiration: retention, abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
    });
  }

  /**
   * Lets a router function write captured examples here: sets LLM_FINOPS_CAPTURE_BUCKET and grants s3:PutObject under
   * `capture/` and kms:GenerateDataKey on the key (what an SSE-KMS put needs), nothing to read or delete.
   */
  bindRouter(fn: IRouterBinding): void {
    fn.addEnvironment(ENV_CAPTURE_BUCKET, this.bucket.bucketName);
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:PutObject'], resourceArns: [this.bucket.arnForObjects(`${CAPTURE_PREFIX}*`)] });
    // A single-part SSE-KMS put needs kms:GenerateDataKey only; kms:Decrypt is for reads and for the parts of a
    // multipart upload, which the sink never makes (AWS re:Post knowledge center, "s3-large-file-encryption-kms-key",
    // read 2026-12-07).
    this.encryptionKey.grant(fn, 'kms:GenerateDataKey');
    if (Construct.isConstruct(fn)) {
      const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
      Validations.of(fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${CAPTURE_PREFIX}*]`,
        reason: 'Captured examples are new objects under capture/<feature>/ with names made per batch; the router may only put them there, not read, list or delete.',
      });
    }
  }

  /** Lets a principal (a training pipeline, a data scientist's role) read and list the captured examples. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.bucket.grantRead(grantee, `${CAPTURE_PREFIX}*`);
  }
}
