/**
 * Timeouts for every AWS SDK client the Lambda functions make. The SDK's defaults are none at all: a call whose
 * endpoint cannot be reached (a router in a VPC with no NAT route and no VPC endpoint for that service) waits for the
 * operating system's TCP timeout, minutes, and holds the function until its own timeout. Bounded, the call fails in
 * seconds with a TimeoutError that the caller handles as it handles any failure (the usage record stays in the log,
 * an alert is logged as unpublished, the quota store fails closed, a cache secret disables the semantic tier).
 *
 * connectionTimeout bounds the TCP (and TLS) connect: tens of milliseconds to a regional endpoint or an interface
 * endpoint in the same VPC, so 3 s only fires when nothing answers. requestTimeout bounds the whole request and
 * response of these short calls (throwOnRequestTimeout: an error, not the SDK's default warning). The SDK's standard
 * retry (3 attempts) still applies, so an unreachable service fails after about 3 x 3 s plus backoff.
 *
 * The Bedrock and SageMaker runtime clients of the providers are bounded per call instead (each provider's timeoutMs
 * through an abort signal), since a long answer may legitimately take minutes.
 */

export const AWS_CONNECT_TIMEOUT_MS = 3_000;

/** Per-call bounds of the short calls, by what they do. */
export const AWS_REQUEST_TIMEOUT_MS = {
  /** DynamoDB quota, tenant, key and exact-cache calls: single-item reads and writes. */
  dynamodb: 5_000,
  /** Secrets Manager GetSecretValue at start-up. */
  secrets: 5_000,
  /** Firehose PutRecordBatch (up to 4 MiB) after the response, SNS Publish, Cost Explorer. */
  delivery: 10_000,
  /** S3 GetObject of a trained artefact (a few MB). */
  artefacts: 30_000,
} as const;

export interface AwsClientConfig {
  region?: string;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
}

/** The config object for `new XClient(...)`: the Region when given, and bounded connect and request times. */
export function awsClientConfig(kind: keyof typeof AWS_REQUEST_TIMEOUT_MS, region?: string): AwsClientConfig {
  return {
    ...(region ? { region } : {}),
    requestHandler: { connectionTimeout: AWS_CONNECT_TIMEOUT_MS, requestTimeout: AWS_REQUEST_TIMEOUT_MS[kind], throwOnRequestTimeout: true },
  };
}
