import { Stack, type StackProps, TimeZone } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type { Construct } from 'constructs';
// In your app: from 'cdk-llm-finops'.
import {
  CostManagedAiPlatform, GatewayConfig, type GatewayConfigDocument, InferenceContainer, InferenceEndpoint, InferenceInstanceType, ModelSource,
} from '../../lib';

export interface SelfHostedInferentiaStackProps extends StackProps {
  /**
   * Time zone of the business-hours schedule.
   * @default TimeZone.EUROPE_BERLIN
   */
  readonly timeZone?: TimeZone;
}

/**
 * A small open-weights model on Inferentia2 as the gateway's small tier, Bedrock as the large tier.
 *
 * - The inf2 endpoint hosts Qwen2.5-1.5B-Instruct (Apache-2.0, not gated) with LMI and transformers-neuronx, as an
 *   inference component that scales to zero: one copy from 08:00 on weekdays, none after 19:00 or when idle; the
 *   first request after zero scales it out (NoCapacityInvocationFailures alarm) and, meanwhile, Nova Lite answers.
 * - The small tier is [qwen-inf2, nova-lite]; the large tier Claude Sonnet with Haiku behind it, premium (the kill
 *   switch downgrades it past the budget).
 * - Bigger models: a 7-8B model fits an inf2.xlarge's accelerator but compiling it at start needs more host memory;
 *   compile once (optimum-neuron or transformers-neuronx) and serve the artefacts with ModelSource.s3 on an
 *   inf2.xlarge, or use INF2_8XLARGE.
 */
export class SelfHostedInferentiaStack extends Stack {
  readonly endpoint: InferenceEndpoint;
  readonly platform: CostManagedAiPlatform;

  constructor(scope: Construct, id: string, props: SelfHostedInferentiaStackProps = {}) {
    super(scope, id, props);
    const timeZone = props.timeZone ?? TimeZone.EUROPE_BERLIN;

    this.endpoint = new InferenceEndpoint(this, 'Qwen', {
      instanceType: InferenceInstanceType.INF2_XLARGE,
      container: InferenceContainer.lmiNeuron(),
      model: ModelSource.huggingFace('Qwen/Qwen2.5-1.5B-Instruct'),
      endpointName: 'llm-finops-qwen-inf2',
      maxBatchSize: 4,
      maxSequenceLength: 4096,
      inferenceComponents: true,
      scaling: {
        minCapacity: 0,
        maxCapacity: 2,
        schedules: [
          { name: 'business-hours', schedule: appscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '8', minute: '0' }), timeZone, minCapacity: 1 },
          { name: 'evening', schedule: appscaling.Schedule.cron({ hour: '19', minute: '0' }), timeZone, minCapacity: 0 },
        ],
      },
    });

    const gatewayConfig: GatewayConfigDocument = {
      providers: [{ type: 'sagemaker', id: 'sagemaker' }, { type: 'bedrock', id: 'bedrock' }],
      models: [
        this.endpoint.gatewayModel('qwen-inf2', 'sagemaker', 1024) as GatewayConfigDocument['models'][number],
        { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' },
        { id: 'claude-haiku-4.5', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
        { id: 'claude-sonnet-4.5', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
          price: { inputPerMTok: 3.3, outputPerMTok: 16.5, cacheWritePerMTok: 4.125, cacheReadPerMTok: 0.33 } },
      ],
      tiers: [
        // The endpoint first: while it scales from zero (or is busy), Nova Lite answers.
        { name: 'small', models: ['qwen-inf2', 'nova-lite'] },
        { name: 'large', models: ['claude-sonnet-4.5', 'claude-haiku-4.5'] },
      ],
      routing: { thresholds: [{ tier: 'small', upTo: 0.5 }, { tier: 'large', upTo: 1 }], baselineModel: 'claude-sonnet-4.5' },
      tenants: [],
      quota: { defaults: { dailyUsd: 20, monthlyUsd: 400 }, premiumTiers: ['large'] },
      usage: { sink: 'stdout' },
    };

    this.platform = new CostManagedAiPlatform(this, 'Platform', {
      gatewayConfig: GatewayConfig.fromObject(gatewayConfig),
      enableSemanticCache: false,
      inferenceEndpoints: [this.endpoint],
      budgets: { monthlyLimitUsd: 1500, sageMakerMonthlyLimitUsd: 600 },
    });
  }
}
