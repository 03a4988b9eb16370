import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
// In your app: from 'cdk-llm-finops'.
import {
  CostManagedAiPlatform, GatewayConfig, type GatewayConfigDocument, InferenceContainer, InferenceEndpoint, InferenceInstanceType, ModelSource,
} from '../../lib';

export interface SmallModelStackProps extends StackProps {
  /**
   * The small model's weights: your distilled or fine-tuned model (e.g. `ModelSource.s3(bucket, 'tickets-slm/')`,
   * the output of a fine-tuning job on the captured examples).
   * @default ModelSource.huggingFace('Qwen/Qwen2.5-0.5B-Instruct'), the untuned base model, to try the path end to end
   */
  readonly model?: ModelSource;
}

/** The classifier's labels: the switch's guard rejects any other answer. */
export const TICKET_LABELS = ['billing', 'bug', 'account', 'other'];

/**
 * The small-model path on AWS (docs/small-model.md): a ticket classifier (`x-llm-feature: tickets`) moved from Claude
 * Sonnet to a small model on a CPU instance, with every guard on.
 *
 * - The small model runs on one ml.m5.xlarge (4 vCPU, 16 GiB, about $0.23 an hour in us-east-1, unverified) with
 *   LMI on CPU: a model under ~1B parameters answers a one-word label in well under a second there. On Graviton
 *   (ml.c7g, ml.m7g) use an arm64 image of your own with `InferenceContainer.fromImage`; LMI's CPU image is x86.
 * - `routing.features` sends tickets to a cascade tier [tickets-slm, claude-sonnet-4.5] whose `labels` check is the
 *   first guard: an answer that is not one of the labels, or an endpoint that fails, goes to Sonnet in the same request.
 * - A shadow policy asks Sonnet again for 5% of the small model's answers and scores them (`exact`); below 90%
 *   agreement over the last 100 the feature is switched back to Sonnet for an hour (`switchBack`), with an alert.
 * - Capture keeps Sonnet's answers to tickets (20%, at most 2,000 a day) of consenting tenants, scrubbed, in the
 *   KMS-encrypted capture bucket: the next fine-tuning round's data.
 */
export class SmallModelStack extends Stack {
  readonly endpoint: InferenceEndpoint;
  readonly platform: CostManagedAiPlatform;

  constructor(scope: Construct, id: string, props: SmallModelStackProps = {}) {
    super(scope, id, props);
    this.endpoint = new InferenceEndpoint(this, 'TicketsSlm', {
      instanceType: InferenceInstanceType.M5_XLARGE,
      container: InferenceContainer.lmiCpu(),
      model: props.model ?? ModelSource.huggingFace('Qwen/Qwen2.5-0.5B-Instruct'),
      endpointName: 'llm-finops-tickets-slm',
      maxSequenceLength: 2048,
      scaling: { minCapacity: 1, maxCapacity: 2 },
    });

    const gatewayConfig: GatewayConfigDocument = {
      providers: [{ type: 'sagemaker', id: 'sagemaker' }, { type: 'bedrock', id: 'bedrock' }],
      models: [
        this.endpoint.gatewayModel('tickets-slm', 'sagemaker', 16) as GatewayConfigDocument['models'][number],
        { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' },
        { id: 'claude-haiku-4.5', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
        { id: 'claude-sonnet-4.5', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
          price: { inputPerMTok: 3.3, outputPerMTok: 16.5, cacheWritePerMTok: 4.125, cacheReadPerMTok: 0.33 } },
      ],
      tiers: [
        { name: 'small', models: ['nova-lite', 'claude-haiku-4.5'] },
        { name: 'large', models: ['claude-sonnet-4.5', 'claude-haiku-4.5'] },
        { name: 'tickets-small', models: ['tickets-slm', 'claude-sonnet-4.5'], mode: 'cascade', cascade: { checks: ['empty', 'refusal', 'labels'], labels: TICKET_LABELS } },
      ],
      routing: {
        thresholds: [{ tier: 'small', upTo: 0.5 }, { tier: 'large', upTo: 1 }],
        baselineModel: 'claude-sonnet-4.5',
        features: { tickets: 'tickets-small' },
      },
      // Add your tenants' key hashes (llm-finops hash-key); only a tenant that agreed is captured.
      tenants: [{ id: 'support-desk', apiKeys: [], captureConsent: true }],
      capture: { features: [{ feature: 'tickets', sampleRate: 0.2, maxPerDay: 2000 }], models: ['claude-sonnet-4.5'] },
      shadow: {
        policies: [{
          feature: 'tickets', model: 'claude-sonnet-4.5', sampleRate: 0.05, scorer: 'exact', maxPerDay: 1000,
          switchBack: { below: 0.9, window: 100, minSamples: 30, retryAfterMinutes: 60 },
        }],
      },
      quota: { defaults: { dailyUsd: 20, monthlyUsd: 400 }, premiumTiers: ['large'] },
      usage: { sink: 'stdout' },
    };

    this.platform = new CostManagedAiPlatform(this, 'Platform', {
      gatewayConfig: GatewayConfig.fromObject(gatewayConfig),
      enableSemanticCache: false,
      inferenceEndpoints: [this.endpoint],
      enableCapture: true,
      capture: { retention: Duration.days(60) },
      budgets: { monthlyLimitUsd: 1000, sageMakerMonthlyLimitUsd: 250 },
    });
  }
}
