import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore } from '../adapters/dynamodb-quota-store';
import { awsClientConfig } from '../adapters/aws-client-config';
import { DynamoDbTenantDirectory } from '../adapters/dynamodb-tenant-directory';
import { SnsAlertSink } from '../adapters/sns-alert-sink';
import { loadArtefacts } from '../adapters/artefacts';
import { awsBatchLaneModule, sentenceEmbedder } from '../adapters/lazy';
import { buildGateway } from '../adapters/wiring';
import { FirehoseUsageSink } from '../adapters/firehose-usage-sink';
import { PowertoolsAlertSink, PowertoolsUsageSink } from '../adapters/powertools-usage-sink';
import { TeeAlertSink, TeeUsageSink } from '../adapters/usage-sinks';
import { BATCH_LOG_TYPES, ENV_ALERT_TOPIC_ARN, ENV_BATCH_BUCKET, ENV_BATCH_ROLE_ARN, ENV_BATCH_TABLE, ENV_QUOTA_TABLE, ENV_USAGE_STREAM, METRICS_NAMESPACE, ROUTER_SERVICE } from '../contract';
import type { BatchEdge } from '../core/batch/route-match';
import { resolveConfig } from '../core/config/resolve';
import { configFromEnv } from './shared/config-from-env';
import { createBatchPollerHandler } from './shared/batch-poller-handler';
import { createBufferedRouterHandler, createRouterHandler, type StreamingRuntime } from './shared/router-handler';


const runtime = (globalThis as { awslambda?: StreamingRuntime }).awslambda;
if (!runtime) throw new Error('This is the Lambda entry point (it needs the response-streaming runtime); run `llm-finops local` for a local gateway.');

/**
 * Built once per execution environment; a bad config fails the cold start loudly, naming every field. Trained
 * artefacts (router, verifier) are read during the cold start, from the function's directory or S3.
 */
const quotaTable = process.env[ENV_QUOTA_TABLE];
const alertTopic = process.env[ENV_ALERT_TOPIC_ARN];
const usageStream = process.env[ENV_USAGE_STREAM];
const config = resolveConfig(configFromEnv());
const dynamo = quotaTable ? new DynamoDBClient(awsClientConfig('dynamodb')) : undefined;
function powertoolsSink(): PowertoolsUsageSink {
  return new PowertoolsUsageSink(new Logger({ serviceName: ROUTER_SERVICE }), new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ROUTER_SERVICE }));
}
/** Each alert's log line and metric (the dashboard's table and alarms), then SNS delivery when a topic is set. */
const alertLog = new PowertoolsAlertSink(new Logger({ serviceName: ROUTER_SERVICE }), new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ROUTER_SERVICE }));
const warn = (message: string): void => void process.stderr.write(`${JSON.stringify({ _type: 'llm_gateway_degraded', level: 'ERROR', message })}\n`);
const artefactsLoaded = loadArtefacts(config, { baseDir: __dirname });
const gateway = artefactsLoaded.then((artefacts) => buildGateway(config, {
  env: process.env,
  baseDir: __dirname,
  artefacts,
  usage: config.raw.usage.sink === 'none'
    ? undefined
    : usageStream
      // The log line and metrics at once; Firehose (S3 -> Athena) after the response has ended, its client loaded then.
      ? new TeeUsageSink([powertoolsSink(), new FirehoseUsageSink(undefined, usageStream)])
      : powertoolsSink(),
  quota: quotaTable ? new DynamoDbQuotaStore(dynamo!, quotaTable) : undefined,
  // Run-time tenants live in the quota table beside the counters.
  tenants: quotaTable ? new DynamoDbTenantDirectory(dynamo!, quotaTable) : undefined,
  // The SNS client is loaded with the first alert, not at cold start.
  alerts: alertTopic ? new TeeAlertSink([alertLog, new SnsAlertSink(undefined, alertTopic)]) : alertLog,
  // Problems that do not stop the gateway (a provider key unset, the semantic cache's secret unreadable): one log
  // line each, at start-up, with a type a metric filter or Logs Insights can find.
  warn,
}));
// The sentence encoder's weights load during the cold start, beside the artefacts, rather than on the first request
// that consults the cache; a failure here is reported by that request (a failed load is not kept).
const sem = config.raw.cache.semantic;
if (sem.enabled && sem.embedder.type === 'sentence') sentenceEmbedder().loadSentenceModel().catch(() => undefined);
// Surfaces a start-up failure in the log at once rather than only with the first request.
gateway.catch((err: unknown) => process.stderr.write(`router start-up failed: ${err instanceof Error ? err.message : String(err)}\n`));

/**
 * The batch API, when the BatchLane construct is bound: its code (the Files and Batch APIs, the S3 and Bedrock
 * control-plane clients) is a lazy chunk loaded by the first batch request or poller run, never by a cold start.
 */
let batchErrors = 0;
const laneBound = [ENV_BATCH_BUCKET, ENV_BATCH_TABLE, ENV_BATCH_ROLE_ARN].some((k) => process.env[k]);
let lane: ReturnType<typeof loadLane> | undefined;
async function loadLane() {
  const [g, artefacts] = await Promise.all([gateway, artefactsLoaded]);
  const m = awsBatchLaneModule();
  const settings = m.batchLaneEnv(process.env)!;
  const log = (line: Record<string, unknown>) => void process.stdout.write(`${JSON.stringify(line)}\n`);
  // One log line each, which the BatchLane's metric filters count for its alarms (BATCH_LOG_TYPES).
  return m.awsBatchLane(g, settings, dynamo ?? new DynamoDBClient(awsClientConfig('dynamodb')), { env: process.env, baseDir: __dirname, artefacts, warn }, {
    onError: (batchId, err) => {
      batchErrors++;
      log({ _type: BATCH_LOG_TYPES.error, level: 'ERROR', batch_id: batchId ?? null, message: err instanceof Error ? err.message : String(err) });
    },
    onJobEnded: (batchId, job) => log({ _type: BATCH_LOG_TYPES.jobEnded, level: job.state === 'completed' ? 'INFO' : 'WARN', batch_id: batchId, job_id: job.jobId, model: job.model, state: job.state, message: job.message ?? null }),
  });
}
const batchLane = () => (lane ??= loadLane().catch((err: unknown) => {
  lane = undefined;
  throw err;
}));
const batches: BatchEdge | undefined = laneBound ? { serve: async (route, call) => (await batchLane()).edge.serve(route, call) } : undefined;

/** For API Gateway response transfer mode STREAM (the default of the constructs). */
export const handler = runtime.streamifyResponse(createRouterHandler(gateway, runtime, { batches }));

/** For a BUFFERED proxy integration (`index.bufferedHandler`). */
export const bufferedHandler = createBufferedRouterHandler(gateway, { batches });

/** The BatchLane's poller (`index.batchPoller`): a function of its own on the router's code, role and settings. */
export const batchPoller = createBatchPollerHandler(async () => {
  if (!laneBound) throw new Error('the batch poller runs only with the BatchLane construct bound (BatchLane.bindRouter sets its variables)');
  const { runner, lease } = await batchLane();
  const g = await gateway;
  return { runner, lease, flush: () => g.flush(), errors: () => batchErrors };
});
