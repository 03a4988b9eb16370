import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** A bucket for attribution data: S3-managed encryption, TLS only, no public access; `props` add the rest. */
export function privateBucket(scope: Construct, id: string, props: s3.BucketProps): s3.Bucket {
  return new s3.Bucket(scope, id, { encryption: s3.BucketEncryption.S3_MANAGED, enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, ...props });
}

/** The access-log bucket of such buckets (S3 log delivery needs bucket-owner-preferred ownership). */
export function accessLogsBucket(scope: Construct, id: string, props: s3.BucketProps): s3.Bucket {
  const bucket = privateBucket(scope, id, { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED, ...props });
  Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'This is an access-log bucket; logging it into itself would loop.' });
  return bucket;
}
