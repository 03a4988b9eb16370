// Every construct and option at once, as a platform team might compose them: an environment-agnostic stack, a staging
// and a production platform in one account and Region, a platform in a non-US Region on its own geography's
// inference profiles, serverless and managed semantic caches, the CUR export in us-east-1 feeding attribution in
// eu-west-1, 40 configured tenants, tenant inference profiles, self-hosted endpoints, budgets, the batch lane and the
// capture store. test/lib/everything.test.ts
// synthesises it and holds every template to the CloudFormation specification and the services' documented limits.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import {
  CacheEmbedder, CacheEngine, CostManagedAiPlatform, CurExport, GatewayConfig, InferenceContainer, InferenceEndpoint, InferenceInstanceType, ModelSource, ReferencePlatformStack, SemanticCachePreset,
  type GatewayConfigDocument,
} from '../../lib';

const ACCOUNT = '111122223333';
const usConfig: GatewayConfigDocument = JSON.parse(readFileSync(join(__dirname, '..', 'platform', 'gateway.json'), 'utf8'));

/** The US config on EU profiles (eu.<model>), for a platform in eu-west-1. */
function euConfig(): GatewayConfigDocument {
  const c = JSON.parse(JSON.stringify(usConfig));
  for (const m of c.models) m.upstreamModel = String(m.upstreamModel).replace(/^us\./, 'eu.');
  return c;
}

/** 40 tenants with key hashes and teams. */
function withTenants(config: GatewayConfigDocument, n = 40): GatewayConfigDocument {
  const tenants = Array.from({ length: n }, (_, i) => ({
    id: i === 0 ? 'a' : `tenant-${String(i).padStart(2, '0')}`, // "a": the shortest id, for the API key length rules
    team: `team-${i % 5}`,
    apiKeys: [{ sha256: createHash('sha256').update(`key-${i}`).digest('hex') }],
  }));
  return { ...config, tenants } as GatewayConfigDocument;
}

/** The small-model path: tickets captured (tenant-01 consents) and shadow-tested on Nova Micro. */
function withSmallModelPath(config: GatewayConfigDocument): GatewayConfigDocument {
  const tenants = (config.tenants ?? []).map((t) => (t.id === 'tenant-01' ? { ...t, captureConsent: true } : t));
  return {
    ...config, tenants,
    capture: { features: [{ feature: 'tickets', sampleRate: 0.2, maxPerDay: 2000 }] },
    shadow: { policies: [{ feature: 'tickets', model: 'nova-micro', sampleRate: 0.05 }] },
  } as GatewayConfigDocument;
}

export function buildEverythingApp(outdir?: string): App {
  const app = new App({ outdir });

  // Environment-agnostic: what `npm start` synthesises.
  new ReferencePlatformStack(app, 'Agnostic', { gatewayConfig: GatewayConfig.fromObject(usConfig) });

  // Billing stack in us-east-1 (Data Exports runs there only).
  const billing = new Stack(app, 'Billing', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const cur = new CurExport(billing, 'Cur', { focus: true });

  // Staging and production in one account and Region: the same tenants, every per-account name must still differ.
  for (const [name, first] of [['Staging', true], ['Production', false]] as const) {
    const s = new Stack(app, name, { env: { account: ACCOUNT, region: 'us-east-1' } });
    const endpoint = new InferenceEndpoint(s, 'SmallLlm', {
      model: ModelSource.huggingFace('Qwen/Qwen2.5-7B-Instruct'),
      instanceType: InferenceInstanceType.INF2_XLARGE,
      container: InferenceContainer.lmiNeuron(),
      inferenceComponents: true,
      scaling: {
        minCapacity: 0, maxCapacity: 2,
        schedules: [
          { name: 'weekday-warm', schedule: appscaling.Schedule.cron({ hour: '8', minute: '0', weekDay: 'MON-FRI' }), timeZone: TimeZone.EUROPE_LONDON, minCapacity: 1 },
          { name: 'evening', schedule: appscaling.Schedule.cron({ hour: '19', minute: '0' }), timeZone: TimeZone.EUROPE_LONDON, minCapacity: 0 },
        ],
      },
    });
    new CostManagedAiPlatform(s, 'Llm', {
      gatewayConfig: GatewayConfig.fromObject(withSmallModelPath(withTenants(usConfig))),
      setUpApiGatewayAccountLogging: first, // once per account and Region
      semanticCache: first ? { engine: CacheEngine.serverless(), embedder: CacheEmbedder.titan({ dimensions: 512 }) } : { engine: CacheEngine.managedDomain({ preset: SemanticCachePreset.PRODUCTION }) },
      webAcl: !first,
      tracing: true,
      timeout: Duration.minutes(5),
      notifications: { emails: ['finops@example.com'], pagerDutyEventsUrl: 'https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue' },
      budgets: { monthlyLimitUsd: 5000, bedrockMonthlyLimitUsd: 3000, sageMakerMonthlyLimitUsd: 1500, tenantBudgets: [{ tenant: 'a', monthlyLimitUsd: 100 }, { tenant: 'tenant-01', monthlyLimitUsd: 200 }], premiumDeny: true },
      costAttribution: first ? { cur: { bucket: cur.bucket, prefix: 'cur', exportName: 'llm-finops-cur2' } } : {},
      tenantInferenceProfiles: [{ tenant: 'a' }, { tenant: 'tenant-01', models: ['nova-lite'] }],
      inferenceEndpoints: [endpoint],
      enableBatchLane: true,
      enableCapture: true,
      capture: first ? { retention: Duration.days(30) } : {},
    });
  }

  // A non-US Region on its geography's profiles; CUR from us-east-1 feeds its attribution.
  const eu = new Stack(app, 'Europe', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  new CostManagedAiPlatform(eu, 'Llm', {
    gatewayConfig: GatewayConfig.fromObject(withTenants(euConfig(), 3)),
    setUpApiGatewayAccountLogging: true,
    semanticCache: { engine: CacheEngine.managedDomain({ preset: SemanticCachePreset.DEVELOPMENT }) },
    costAttribution: { cur: { bucket: cur.bucket, prefix: 'cur', exportName: 'llm-finops-cur2' }, focus: { bucket: cur.bucket, prefix: 'focus', exportName: 'llm-finops-focus' } },
    budgets: { monthlyLimitUsd: 800 },
    enableBatchLane: true,
    batchLane: { retention: Duration.days(7), sweepInterval: Duration.minutes(10) },
  });
  return app;
}

if (require.main === module) buildEverythingApp().synth();
