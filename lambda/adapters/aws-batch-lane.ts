import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ENV_BATCH_BUCKET, ENV_BATCH_RETENTION_DAYS, ENV_BATCH_ROLE_ARN, ENV_BATCH_TABLE } from '../contract';
import { anyOfJobs } from '../core/batch/jobs';
import type { BatchEdge } from '../core/batch/route-match';
import { batchEdge } from '../core/batch/routes';
import { BatchService, type BatchServiceOptions } from '../core/batch/service';
import type { PollerLease } from '../core/batch/store';
import type { Gateway } from '../core/pipeline';
import { AnthropicBatchJobs } from './anthropic-batch-jobs';
import { AwsBatchStore } from './aws-batch-store';
import { BedrockBatchJobs } from './bedrock-batch-jobs';
import { OpenAiBatchJobs } from './openai-batch-jobs';
import { systemClock, systemIds } from './system-runtime';
import { type WiringOptions, providerKey } from './wiring';

/** Where the BatchLane construct's resources are, from the router's (and the poller's) environment. */
export interface BatchLaneEnv {
  readonly bucket: string;
  readonly table: string;
  readonly roleArn: string;
  readonly retentionDays: number;
}

/**
 * The lane's settings, or undefined when the BatchLane construct is not bound (no batch API). Half of them set is
 * a broken deploy, refused at cold start rather than at the first batch.
 */
export function batchLaneEnv(env: Readonly<Record<string, string | undefined>>): BatchLaneEnv | undefined {
  const bucket = env[ENV_BATCH_BUCKET];
  const table = env[ENV_BATCH_TABLE];
  const roleArn = env[ENV_BATCH_ROLE_ARN];
  if (!bucket && !table && !roleArn) return undefined;
  if (!bucket || !table || !roleArn) {
    throw new Error(`the batch lane needs ${ENV_BATCH_BUCKET}, ${ENV_BATCH_TABLE} and ${ENV_BATCH_ROLE_ARN} together (set by BatchLane.bindRouter)`);
  }
  const days = Number(env[ENV_BATCH_RETENTION_DAYS] ?? '30');
  if (!Number.isFinite(days) || days <= 0) throw new Error(`${ENV_BATCH_RETENTION_DAYS} must be a positive number of days, got ${env[ENV_BATCH_RETENTION_DAYS]}`);
  return { bucket, table, roleArn, retentionDays: days };
}

/**
 * The batch API as the Lambda runs it: state in the lane's table and bucket, lines answered by provider batch jobs
 * (Bedrock batch inference through the lane's role; OpenAI's Batch API and Anthropic's Message Batches for providers
 * with `batchApi`). There is no
 * simulator on AWS: a model with neither is refused by line (`model_not_batchable`). The router serves the API
 * (`edge`) and never runs batches; the poller takes a fresh `runner()` each invocation (its stop is that
 * invocation's) and moves them on with `runDue`.
 */
export function awsBatchLane(
  gateway: Gateway, lane: BatchLaneEnv, dynamo: DynamoDBClient, wiring: WiringOptions, events: Pick<BatchServiceOptions, 'onError' | 'onJobEnded'> = {},
): { edge: BatchEdge; runner: () => BatchService; lease: PollerLease } {
  const store = new AwsBatchStore({ dynamo, table: lane.table, bucket: lane.bucket, retentionDays: lane.retentionDays });
  const jobs = anyOfJobs(
    new OpenAiBatchJobs(gateway.config, (p) => providerKey(p, wiring)),
    new AnthropicBatchJobs(gateway.config, (p) => providerKey(p, wiring)),
    new BedrockBatchJobs({ bucket: lane.bucket, prefix: 'jobs/', roleArn: lane.roleArn }),
  );
  // The poller runs on a schedule and on Bedrock's job events: every run reads each running job's state once.
  const runner = () => new BatchService({ gateway, store, clock: systemClock, ids: systemIds, jobs, pollEveryMs: 0, ...events });
  return { edge: batchEdge(runner()), runner, lease: { take: (holder, untilMs) => store.lease(holder, untilMs), release: (holder) => store.release(holder) } };
}
