import * as z from 'zod';
import { GUARD_NAMES, type GuardName } from '../cache/guards';
import { CASCADE_CHECKS, type CascadeCheck } from '../routing/cascade';

/**
 * GatewayConfig: the one JSON document the router Lambda and the local gateway read. `schema/gateway-config.schema.json`
 * is generated from this file at build time for editors (`"$schema": "./node_modules/cdk-llm-finops/schema/..."`).
 */

// The config is parsed once per process (a cold start, a CLI command): zod's JIT would compile a parser for each
// object schema with new Function first, which costs more than the one parse it speeds up (measured on the router's
// cold start, bench/cold-start.ts).
z.config({ jitless: true });

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'letters, digits and . _ : / - (max 128), starting with a letter or digit');
const positiveInt = z.number().int().positive();
const usd = z.number().finite().nonnegative();
/** A JSON artefact (trained router, cache verifier): a file, or an S3 object read once at cold start. */
const artefact = (what: string) =>
  z.union([
    z.strictObject({ path: z.string().min(1).describe(`${what}: a file, relative to the config file (local) or the function directory (Lambda)`) }),
    z.strictObject({ s3Uri: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'expected s3://bucket/key (bucket: 3-63 lower-case letters, digits, dots and hyphens)').describe(`${what}: an S3 object the router function may read`) }),
  ]);

const usdTokenRates = {
  inputPerMTok: usd.describe('USD per 1M input tokens'),
  outputPerMTok: usd.describe('USD per 1M output tokens'),
  cacheReadPerMTok: usd.optional().describe('USD per 1M cache-read input tokens; unset: billed at the input price and flagged cache_read_unpriced'),
  cacheWritePerMTok: usd.optional().describe('USD per 1M 5-minute cache-write input tokens; defaults to the input price'),
  cacheWrite1hPerMTok: usd.optional().describe('USD per 1M 1-hour cache-write input tokens; defaults to twice the input price (Anthropic)'),
};
const UsdTokenRatesSchema = z.strictObject(usdTokenRates);

export const UsdTokenPriceSchema = z.strictObject({
  ...usdTokenRates,
  longContext: z
    .strictObject({ aboveInputTokens: positiveInt.describe('The row applies to the whole request once its input tokens pass this'), ...usdTokenRates })
    .optional()
    .describe('Long-context row, e.g. Claude Sonnet 4.5 above 200k input tokens'),
  serviceTiers: z
    .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), UsdTokenRatesSchema)
    .optional()
    .describe('Rows per service tier (OpenAI priority, flex); a request asking for an unpriced tier is refused'),
  batch: UsdTokenRatesSchema.optional().describe('Batch rates (OpenAI Batch API, Anthropic Message Batches, Bedrock batch inference); default: half of every standard rate'),
});

const timeoutMs = positiveInt.max(900_000).default(60_000).describe('Per-attempt upstream timeout in ms (a stream: until its first event)');
const streamTimeouts = {
  streamIdleTimeoutMs: positiveInt.max(900_000).optional().describe('Longest silence inside a started stream before the attempt fails as a timeout; default timeoutMs'),
  streamTimeoutMs: positiveInt.max(900_000).optional().describe('Longest a started stream may take in total (a slow drip); default 900000'),
};

const outputCapParam = z
  .enum(['max_tokens', 'max_completion_tokens'])
  .optional()
  .describe(
    'Body field carrying the output cap the gateway sends when the client gives none (so no answer costs more than was reserved). ' +
      'Default: max_completion_tokens for api.openai.com and Azure OpenAI, max_tokens for other servers (vLLM, Ollama, llama.cpp)',
  );

const secretRef = {
  apiKeyEnv: z.string().min(1).optional().describe('Environment variable holding the API key; plaintext keys never appear in config'),
  apiKeySecret: z
    .string()
    .regex(/^(arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$/, 'a Secrets Manager secret ARN or name')
    .optional()
    .describe('Secrets Manager secret (ARN or name) holding the API key, as plain text or JSON {"apiKey": "..."}; read once at start-up'),
};

export const ProviderSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('openai-compatible'),
    id,
    baseUrl: z.url().describe('Base URL including /v1, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1'),
    ...secretRef,
    headers: z.record(z.string(), z.string()).optional().describe('Extra request headers (no secrets)'),
    responses: z.boolean().optional().describe('Whether the server serves POST /responses (OpenAI, vLLM): Responses API requests then pass through unchanged; otherwise they are translated to chat completions. Default: true for api.openai.com, false for other servers'),
    batchApi: z.boolean().optional().describe("Whether the server serves OpenAI's Files and Batch APIs (/files, /batches): the gateway's batches then run there as batch jobs at the batch price. Default: true for api.openai.com, false for other servers"),
    outputCapParam,
    timeoutMs,
    ...streamTimeouts,
  }),
  z.strictObject({
    type: z.literal('anthropic'),
    id,
    baseUrl: z.url().default('https://api.anthropic.com').describe("Anthropic's API (default) or a server speaking the Messages API, without /v1"),
    batchApi: z.boolean().optional().describe("Whether the server serves Anthropic's Message Batches API (/v1/messages/batches): the gateway's batches then run there as batch jobs at the batch price. Default: true for api.anthropic.com, false for other servers"),
    ...secretRef,
    headers: z.record(z.string(), z.string()).optional().describe('Extra request headers (no secrets)'),
    timeoutMs,
    ...streamTimeouts,
  }),
  z.strictObject({
    type: z.literal('azure-openai'),
    id,
    endpoint: z.url().describe('Resource endpoint, e.g. https://my-resource.openai.azure.com'),
    apiVersion: z.string().min(1).default('2024-10-21'),
    ...secretRef,
    outputCapParam,
    timeoutMs,
    ...streamTimeouts,
  }),
  z.strictObject({
    type: z.literal('bedrock'),
    id,
    region: z.string().min(1).optional().describe('Defaults to the runtime region'),
    anthropicBetas: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'a beta flag such as interleaved-thinking-2025-05-14'))
      .optional()
      .describe("The anthropic-beta flags Messages requests may pass to Claude on Bedrock (anthropic_beta); others are dropped, since Bedrock refuses a request with a flag it does not know. Default: every flag but Claude Code's own client markers (claude-code-*)"),
    timeoutMs,
    ...streamTimeouts,
  }),
  z.strictObject({
    type: z.literal('sagemaker'),
    id,
    region: z.string().min(1).optional(),
    timeoutMs,
    ...streamTimeouts,
  }),
]);

export const ModelSchema = z.strictObject({
  id: id.describe('Public model id clients send in `model`'),
  provider: id.describe('Id of a provider in `providers`'),
  upstreamModel: z.string().min(1).describe('Model at the provider: OpenAI model name, Azure deployment, Bedrock model id / inference profile id / application inference profile ARN, SageMaker endpoint name'),
  priceId: z.string().min(1).optional().describe('Catalog entry or `prices` key; defaults to upstreamModel'),
  price: UsdTokenPriceSchema.optional().describe('Inline price; wins over the catalog'),
  instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/).optional().describe('SageMaker models billed by the instance-hour instead of per token'),
  inferenceComponent: z.string().min(1).optional().describe('SageMaker inference component name'),
  maxOutputTokens: positiveInt.max(1_000_000).optional().describe('Model maximum output tokens; defaults to the catalog value or 4096'),
  kind: z.enum(['chat', 'embedding']).default('chat').describe('embedding: served on POST /v1/embeddings only (priced per input token), never in a tier'),
  commitment: z
    .strictObject({
      type: z.enum(['bedrock-provisioned', 'bedrock-reserved', 'azure-ptu', 'reserved-capacity'])
        .describe('Bedrock Provisioned Throughput, Bedrock Reserved tier (tokens per minute reserved, overflow billed on demand: the model keeps its per-token price), Azure OpenAI PTU, or any capacity paid by the hour'),
      units: positiveInt.describe('Model units (Bedrock Provisioned), thousands of tokens per minute (Bedrock Reserved) or PTUs (Azure) held'),
      usdPerUnitHour: usd.describe('Price of one unit for one hour at the commitment term (from your agreement or the pricing page; Bedrock Reserved lists a price per 1K tokens per minute per month: divide it by 730)'),
      term: z.enum(['none', '1-month', '3-month', '6-month', 'monthly', 'yearly']).default('none').describe('Bedrock Provisioned: none, 1-month, 6-month; Bedrock Reserved: 1-month, 3-month; Azure PTU reservations: monthly, yearly'),
      tokensPerMinutePerUnit: positiveInt.optional().describe('Throughput one unit carries (input + output tokens a minute); commitment-first tiers spill beyond it'),
    })
    .optional()
    .describe('A model paid by the hour for capacity: each request costs nothing at the margin (cost_basis commitment); attribution apportions the hours by tokens'),
  promptCache: z
    .strictObject({
      minTokens: positiveInt.describe('Tokens a prefix must reach before a cache point takes effect (each further point: as many again)'),
      maxPoints: positiveInt.max(16).default(4),
      ttl1h: z.boolean().default(false).describe('Whether the model offers the 1-hour cache TTL'),
    })
    .optional()
    .describe("Bedrock prompt caching limits, overriding the catalog's (the automatic policy places cache points only on models with limits)"),
});

export const LimitSetSchema = z.strictObject({
  dailyUsd: usd.optional(),
  monthlyUsd: usd.optional(),
  dailyTokens: z.number().int().nonnegative().optional(),
  monthlyTokens: z.number().int().nonnegative().optional(),
  requestsPerMinute: z.number().int().nonnegative().optional(),
});

/** A policy window: a calendar one (UTC; weeks start on Monday), the whole life of the scope, or a custom period. */
export const PolicyWindowSchema = z.union([
  z.enum(['minute', 'hour', 'day', 'week', 'month', 'total']),
  z.strictObject({
    periodSeconds: z.number().int().min(60).max(31_622_400).describe('The period, 60 s to 366 days'),
    anchor: z.iso.datetime({ offset: true }).default('1970-01-01T00:00:00Z').describe('When the first period starts (periods repeat from here)'),
  }),
]);

export const PolicyLimitSchema = z.strictObject({
  window: PolicyWindowSchema.describe("minute, hour, day, week, month, total (never resets: a session's whole life) or {periodSeconds, anchor}"),
  usd: z.number().positive().max(1_000_000_000).optional().describe('Spend in the window, USD'),
  tokens: positiveInt.max(1_000_000_000_000).optional().describe('Input plus output tokens in the window (per minute: TPM)'),
  requests: positiveInt.max(1_000_000_000).optional().describe('Requests in the window (per minute: RPM)'),
}).refine((l) => l.usd !== undefined || l.tokens !== undefined || l.requests !== undefined, { message: 'set usd, tokens or requests' });

const globPattern = z.string().min(1).max(200).regex(/^[A-Za-z0-9_.:/@*-]+$/, 'letters, digits, _.:/@- and * (any characters)');

export const PolicySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and -, up to 63').describe('Names the policy in refusals, records and counters'),
  description: z.string().max(500).optional(),
  match: z.strictObject({
    tenant: globPattern.optional(),
    feature: globPattern.optional(),
    team: globPattern.optional(),
    model: globPattern.optional().describe('The primary model of the route (the first of its chain), e.g. claude-opus-*'),
    provider: globPattern.optional(),
    apiKey: globPattern.optional().describe('The API key: the first 16 hex characters of its SHA-256 (as in tenants[].apiKeys[].sha256), e.g. 3f2a9c*'),
  }).default({}).describe('Which requests the policy counts; every field given must match (* is any characters)'),
  per: z.enum(['global', 'tenant', 'feature', 'team', 'endUser', 'apiKey', 'model', 'provider', 'session']).default('global')
    .describe('One budget for all matching requests (global), or one per value of this: the hashed end user (`user`, Messages metadata.user_id), the API key (16 hex of its SHA-256), the session (x-llm-session-id), ...; a request without that value is not counted by the policy'),
  limits: z.array(PolicyLimitSchema).min(1).max(12),
  brownout: z.strictObject({
    downgradeAt: z.number().gt(0).lt(1).optional().describe('Share of a USD or token limit from which requests are served from the cheapest allowed tier'),
    throttleAt: z.number().gt(0).lt(1).optional().describe('Share of a USD or token limit from which the requests the policy counts are held to throttleRpm (per value of `per`)'),
    throttleRpm: positiveInt.max(1_000_000).optional().describe('Requests per minute allowed once throttleAt is reached'),
  }).refine((b) => b.downgradeAt !== undefined || b.throttleAt !== undefined, { message: 'set downgradeAt, throttleAt or both' })
    .refine((b) => (b.throttleAt === undefined) === (b.throttleRpm === undefined), { message: 'throttleAt and throttleRpm go together' })
    .refine((b) => b.downgradeAt === undefined || b.throttleAt === undefined || b.downgradeAt <= b.throttleAt, { message: 'downgradeAt comes before throttleAt (a smaller or equal share)' })
    .optional().describe('Stages before the wall: from downgradeAt of a limit, requests the policy counts are served from the cheapest tier the tenant may use (quota_action brownout_downgraded); from throttleAt they are held to throttleRpm (brownout_throttled, 429 past it). Each stage alerts once per window'),
  onExhausted: z.enum(['refuse', 'downgrade']).default('refuse')
    .describe('At 100%: refuse (429), or serve from a cheaper tier that the policy does not refuse (e.g. a policy on claude-opus-* only), refusing only when none fits'),
});

export const TenantSchema = z.strictObject({
  id,
  team: z.string().min(1).optional(),
  apiKeys: z
    .array(z.strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256 of the key'),
      label: z.string().optional(),
    }))
    .default([])
    .describe('Hashes of the tenant\'s API keys; plaintext keys never appear in config'),
  allowedTiers: z.array(z.string().min(1)).optional().describe('Default: every tier'),
  allowedModels: z.array(z.string().min(1)).optional().describe('Models the tenant may name explicitly. Default: those in its allowed tiers'),
  limits: LimitSetSchema.optional(),
  features: z.record(z.string().min(1), LimitSetSchema).optional().describe('Limits per feature (x-llm-feature)'),
  upstreamModels: z.record(z.string().min(1), z.string().min(1)).optional()
    .describe("This tenant's upstream id per model id, e.g. a Bedrock application inference profile ARN carrying the tenant's cost allocation tags (TenantInferenceProfiles sets these)"),
  captureConsent: z.boolean().default(false)
    .describe("The tenant agreed that its exchanges may be kept, scrubbed, as training data for a small model (capture); without it nothing of this tenant is captured"),
});

/** Who a policy applies to: the most specific of tenant+feature, tenant, feature, then none applies (scopedPolicyFor). */
const policyScope = {
  tenant: z.string().min(1).optional().describe('Applies to this tenant only; omit for every tenant'),
  feature: z.string().min(1).optional().describe('Applies to this feature (x-llm-feature) only'),
};

export const GatewayConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  providers: z.array(ProviderSchema).min(1),
  models: z.array(ModelSchema).min(1),
  tiers: z.array(z.strictObject({
    name: id,
    models: z.array(z.string().min(1)).min(1).describe('Fallback chain, first preferred; in cascade mode, cheapest first'),
    mode: z.enum(['fallback', 'cascade', 'commitment-first']).default('fallback').describe(
      'cascade: call the first model, escalate to the next when a check rejects its answer; commitment-first: committed models (models[].commitment) first, spilling to the next when one is throttled or its tokensPerMinutePerUnit capacity is used up',
    ),
    cascade: z
      .strictObject({
        checks: z.array(z.enum(CASCADE_CHECKS as [CascadeCheck, ...CascadeCheck[]])).default(['empty', 'refusal', 'truncated', 'json', 'logprob']),
        minMeanLogprob: z.number().max(0).default(-1).describe('logprob check: escalate below this mean token log-probability (providers returning logprobs only)'),
        labels: z.array(z.string().min(1)).min(1).optional().describe('labels check: escalate an answer that is not one of these labels (a classifier switched to a small model)'),
        schema: z.record(z.string(), z.unknown()).optional().describe('json check: a JSON Schema every answer must satisfy even when the request did not ask for JSON (an extractor switched to a small model)'),
      })
      .prefault({}),
  })).min(1),
  routing: z.strictObject({
    thresholds: z
      .array(z.strictObject({ tier: z.string().min(1), upTo: z.number().min(0).max(1) }))
      .min(1)
      .describe('Ascending; a prompt with complexity score s goes to the first tier with s <= upTo; the last upTo must be 1'),
    baselineModel: z.string().min(1).describe('Model whose price gives baseline_cost_usd (what you would pay without the gateway)'),
    features: z.record(z.string().min(1), z.string().min(1)).optional()
      .describe('Tier per feature for model auto (or none): e.g. a cascade tier whose first model is a small model a feature was switched to, its checks the guard'),
    learned: artefact('JSON from `llm-finops router train`')
      .optional()
      .describe("A trained router: its score in [0, 1] replaces the heuristic's for model auto, mapped by thresholds"),
    retry: z
      .strictObject({
        attemptsPerModel: positiveInt.max(5).default(2),
        baseDelayMs: z.number().int().nonnegative().max(10_000).default(100),
        maxDelayMs: z.number().int().nonnegative().max(60_000).default(2_000),
      })
      .prefault({}),
  }),
  tenants: z.array(TenantSchema).default([]),
  quota: z
    .strictObject({
      defaults: LimitSetSchema.default({}).describe('Limits for tenants without their own'),
      global: LimitSetSchema.default({}),
      outputTokenCap: positiveInt.max(1_000_000).default(4096).describe('Output tokens reserved and sent upstream when the request sets no max_tokens (a client\'s own max_tokens is honoured up to the model\'s maximum, and fitted to the budget: fitOutputToBudget)'),
      fitOutputToBudget: z
        .strictObject({
          enabled: z.boolean().default(true).describe('When a request\'s output cap does not fit a USD or token limit, send a smaller cap that does instead of refusing it (the answer may stop at max_tokens; the response says so in x-llm-output-cap)'),
          share: z.number().gt(0).max(1).default(0.25).describe('Share of what is left in the tightest window one fitted request may reserve, so parallel requests (an agent\'s subagents) are all admitted'),
          minOutputTokens: positiveInt.max(1_000_000).default(1024).describe('The smallest cap worth sending; below it the request is refused (429) until money returns'),
        })
        .prefault({}),
      reservationTtlSeconds: positiveInt.max(86_400).default(900).describe('After this an unsettled reservation (a crashed request) is released'),
      alertThresholds: z.array(z.number().gt(0).max(1)).default([0.8]).describe('Shares of a limit that raise one alert per counter and window'),
      mode: z.enum(['enforce', 'shadow']).default('enforce').describe('shadow: record would-be rejections, block nothing'),
      onExhausted: z.enum(['reject', 'downgrade']).default('reject').describe('downgrade: move to a cheaper tier that fits before refusing'),
      premiumTiers: z.array(z.string().min(1)).default([]).describe('Tiers the kill switch blocks or downgrades'),
      onStoreError: z.enum(['fail-closed', 'fail-open']).default('fail-closed').describe('When the quota store cannot be reached'),
      controlsCacheSeconds: z.number().int().nonnegative().max(300).default(5).describe('How long limits, kill switches and run-time tenants and keys read from the store are reused'),
      forecast: z
        .strictObject({
          enabled: z.boolean().default(true).describe('Alert once per window when a USD limit on a day, week, month or custom window will run out before the window ends at the recent hourly spend rate (one more counter per limited scope: its current hour)'),
          checkEverySeconds: positiveInt.max(3600).default(300).describe('How often one gateway process re-checks a counter\'s projection'),
          spikeFactor: z.number().gt(1).max(1000).default(3).describe('Spike alert: the current hour\'s spend rate passes this many times the trailing hourly average (once per scope and hour)'),
          spikeTrailingHours: positiveInt.max(168).default(24).describe('Hours the trailing average of the spike alert spans'),
          spikeMinUsdPerHour: z.number().nonnegative().max(1_000_000).default(1).describe('No spike alert below this rate, USD per hour (a new or quiet scope has no meaningful average)'),
        })
        .prefault({}),
      policies: z.array(PolicySchema).max(50).default([])
        .refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, { message: 'policy ids must be unique' })
        .describe('Budgets on any scope and window beside the tenant, feature and global limits: per end user, team, session, model, provider; per minute (TPM, RPM), hour, week, or a custom period. Held exactly across gateway instances like the others'),
    })
    .prefault({}),
  cache: z
    .strictObject({
      exact: z
        .strictObject({
          enabled: z.boolean().default(true),
          ttlSeconds: positiveInt.default(3600),
          maxTemperature: z.number().min(0).max(2).default(1).describe("Requests above this temperature are cached by neither tier; an unset temperature counts as 1"),
          maxEntryBytes: positiveInt.default(262_144).describe('Answers larger than this (JSON bytes) are not cached by either tier'),
          store: z
            .discriminatedUnion('type', [
              z.strictObject({
                type: z.literal('memory'),
                maxEntries: positiveInt.default(10_000),
                maxEntriesPerTenant: positiveInt.optional().describe('Entries one tenant may hold (its own LRU evicts first); default a quarter of maxEntries'),
              }),
              z.strictObject({
                type: z.literal('dynamodb'),
                tableName: z.string().min(3).max(255).describe('Table with string partition key "pk" and TTL attribute "expiresAt"'),
                region: z.string().min(1).optional(),
              }),
            ])
            .default({ type: 'memory', maxEntries: 10_000 }),
        })
        .prefault({}),
      ttlByFeature: z
        .record(z.string().min(1), positiveInt)
        .default({})
        .describe('Entry lifetime in seconds per feature (x-llm-feature), for both tiers; others use exact.ttlSeconds'),
      semantic: z
        .strictObject({
          enabled: z.boolean().default(false),
          threshold: z
            .number().gt(-1).max(1).optional()
            .describe('Minimum cosine similarity; default 0.65 for the local embedder (chosen on QQP, see docs/semantic-cache.md), 0.95 for the others'),
          maxCandidates: positiveInt.max(50).default(5).describe('Nearest entries over the threshold that the guards and the verifier look at'),
          guards: z
            .strictObject({
              ...(Object.fromEntries(GUARD_NAMES.map((g) => [g, z.boolean().optional()])) as Record<GuardName, z.ZodOptional<z.ZodBoolean>>),
              contentRule: z.enum(['exact', 'order']).optional().describe('exact: same content words in the same order; order: only rearranged words are refused'),
              answerSlot: z.boolean().optional().describe('Refuse a hit whose prompt differs from the query in one short span (a template\'s slot) when the cached answer speaks of its own span and not of the query\'s (default on)'),
            })
            .prefault({})
            .describe("False-hit guards: each detail must agree between the query and the cached prompt. Unset ones take the embedder's defaults: all on for local, bedrock and openai-compatible; for sentence, question and person off and contentRule order"),
          verifier: artefact('JSON from `llm-finops cache train-verifier`')
            .optional()
            .describe('Serve a semantic hit only when this learned pair verifier accepts it'),
          builtinVerifier: z
            .boolean()
            .default(true)
            .describe('Embedder sentence without a verifier: use the built-in one fitted on the dev pairs (the default threshold and guards were chosen with it)'),
          embedder: z
            .discriminatedUnion('type', [
              z.strictObject({ type: z.literal('local'), dimensions: positiveInt.min(64).max(8192).default(1024) }).describe('Hashed lexical features: no model, no download; paraphrases in other words score low'),
              z.strictObject({
                type: z.literal('sentence'),
                maxChars: positiveInt.min(100).max(100_000).default(4000).describe('Characters embedded per prompt: longer ones keep their first 3/4 and last 1/4'),
              }).describe('Universal Sentence Encoder lite, offline (optional packages @energetic-ai/*, installed with the CLI; in the Lambda, the SentenceEncoderLayer the constructs attach)'),
              z.strictObject({
                type: z.literal('bedrock'),
                model: z.string().min(1).default('amazon.titan-embed-text-v2:0'),
                dimensions: z.union([z.literal(256), z.literal(512), z.literal(1024)]).default(1024).describe('Titan Text Embeddings V2 sizes'),
                region: z.string().min(1).optional(),
                pricePerMTok: usd.optional().describe('USD per 1M input tokens; default from the price catalog'),
              }),
              z.strictObject({
                type: z.literal('openai-compatible'),
                baseUrl: z.url(),
                model: z.string().min(1),
                apiKeyEnv: z.string().min(1).optional(),
                dimensions: positiveInt.optional().describe('Sent as `dimensions` when set (text-embedding-3 models)'),
                pricePerMTok: usd.optional().describe('USD per 1M input tokens; required unless the model is in the price catalog (0 for a local server)'),
                timeoutMs: positiveInt.max(120_000).default(10_000),
              }),
            ])
            .default({ type: 'local', dimensions: 1024 }),
          index: z
            .discriminatedUnion('type', [
              z.strictObject({
                type: z.literal('memory'),
                maxEntriesPerPartition: positiveInt.default(5_000),
                maxEntries: positiveInt.default(50_000).describe('Entries in total; the least recently written conversation loses its oldest first'),
                maxEntriesPerTenant: positiveInt.optional().describe('Entries one tenant may hold; default a quarter of maxEntries'),
                maxMegabytes: positiveInt.default(128).describe('Approximate memory the entries may hold (vectors, prompts, answers), MiB'),
              }),
              z.strictObject({
                type: z.literal('embedded'),
                path: z.string().min(1).describe('Directory the index persists to'),
                maxEntries: positiveInt.default(200_000),
                annMinEntries: z.number().int().nonnegative().default(2_000)
                  .describe('A tenant and context with at least this many entries is searched through an HNSW graph (usearch, an optional dependency of the CLI) instead of a scan; 0: always scan'),
              }),
              z.strictObject({
                type: z.literal('opensearch'),
                endpoint: z.url().describe('Domain endpoint or Serverless collection endpoint, https://...'),
                service: z.enum(['es', 'aoss']).default('es').describe('es: managed domain; aoss: Serverless collection (SigV4 service name)'),
                region: z.string().min(1).optional(),
                indexName: z.string().min(1).max(255).regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower case letters, digits, _ and -').default('llm-finops-semantic-cache'),
              }),
              z.strictObject({
                type: z.literal('pinecone'),
                host: z.string().min(1).describe("The index host (console or describe_index): my-index-abc123.svc.aped-1234.pinecone.io; a cosine index of the embedder's size"),
                apiKeyEnv: z.string().min(1).optional().describe('Environment variable holding the API key (llm-finops local)'),
                apiKeySecret: z.string().min(1).optional().describe('Secrets Manager secret name or ARN holding the API key (the Lambda reads it at cold start)'),
                apiVersion: z.string().regex(/^\d{4}-\d{2}$/, 'YYYY-MM').default('2025-10').describe('X-Pinecone-Api-Version'),
                timeoutMs: positiveInt.max(30_000).default(2_000),
              }).refine((p) => !!p.apiKeyEnv !== !!p.apiKeySecret, { message: 'set exactly one of apiKeyEnv and apiKeySecret' }),
              z.strictObject({
                type: z.literal('valkey'),
                url: z.string().regex(/^rediss?:\/\/[^/\s]+$/, 'redis://host:port or rediss://host:port (TLS)')
                  .describe('ElastiCache for Valkey 8.2+, MemoryDB with vector search, or Redis 8: rediss://host:6379 for TLS'),
                username: z.string().min(1).optional().describe('ACL user (ElastiCache RBAC / MemoryDB); default the default user'),
                passwordEnv: z.string().min(1).optional().describe('Environment variable holding the password or AUTH token (llm-finops local)'),
                passwordSecret: z.string().min(1).optional().describe('Secrets Manager secret name or ARN holding the AUTH token as plain text (the Lambda reads it at cold start)'),
                indexName: z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -').default('llm-finops-semantic-cache'),
                keyPrefix: z.string().min(1).max(64).regex(/^[A-Za-z0-9_:.-]+$/, 'letters, digits and _:.-').default('llmcache:'),
                efRuntime: positiveInt.max(4096).optional().describe('HNSW EF_RUNTIME per query: higher finds more true neighbours, slower; the engine default when unset'),
                timeoutMs: positiveInt.max(30_000).default(2_000),
              }).refine((p) => !(p.passwordEnv && p.passwordSecret), { message: 'set at most one of passwordEnv and passwordSecret' }),
            ])
            .default({ type: 'memory', maxEntriesPerPartition: 5_000, maxEntries: 50_000, maxMegabytes: 128 }),
        })
        .prefault({}),
    })
    .prefault({}),
  promptCaching: z
    .strictObject({
      policies: z
        .array(z.strictObject({
          ...policyScope,
          ttl: z.enum(['5m', '1h']).default('5m').describe('Cache TTL: 1h where the model offers it (writes cost 2x input instead of 1.25x), else 5m'),
        }))
        .default([])
        .describe('Opt-in automatic Bedrock cache points (after the system prompt, after the conversation so far) where the prefix passes the model minimum; the most specific policy applies. Client cache_control hints are always honoured'),
    })
    .prefault({}),
  context: z
    .strictObject({
      policies: z
        .array(z.strictObject({
          ...policyScope,
          rerankBudget: z.number().gt(0).max(1).default(0.4).describe('Share of document tokens kept by re-ranking; 1 keeps all'),
          minChunks: z.number().int().nonnegative().default(2).describe('Documents kept whatever the budget, best first (2: on TREC QA dev the second-best chunk held the answer in one question in 51)'),
          historyMaxTokens: z.number().int().positive().optional().describe('Drop the oldest turns beyond this many tokens'),
          cleanup: z.boolean().default(true).describe('Trailing whitespace, blank-line runs, duplicate documents, boilerplate lines'),
          includeSystem: z.boolean().default(false).describe('Also optimise system prompts'),
          includeToolResults: z.boolean().default(false).describe('Also optimise tool results'),
        }))
        .default([])
        .describe('Opt-in context optimisation; the most specific policy (tenant+feature, tenant, feature, global) applies'),
    })
    .prefault({}),
  serviceTiers: z
    .strictObject({
      policies: z
        .array(z.strictObject({
          ...policyScope,
          tier: z.enum(['flex', 'priority', 'default']).describe('flex: discounted, may wait (work that can wait); priority: premium, ahead of the queue (work that may not); default: standard'),
          allowRequest: z.array(z.enum(['flex', 'priority', 'default'])).default(['default', 'flex'])
            .describe("Tiers a request may ask for instead with service_tier (a tier outside this list is refused, 400); the default lets a client choose standard or cheaper, not priority"),
          fallbackToDefault: z.boolean().default(true)
            .describe('A Flex call the provider throttles is sent again at once at the standard tier (flag flex_fallback); the reservation is then held at the standard price'),
        }))
        .default([])
        .describe('The service tier by tenant and feature, the most specific policy applying (tenant+feature, tenant, feature, global). Sent to Bedrock (Converse serviceTier) and OpenAI-compatible providers for models with a price row for the tier; other models run at standard (flag service_tier_stripped)'),
    })
    .prefault({}),
  capture: z
    .strictObject({
      features: z
        .array(z.strictObject({
          feature: z.string().min(1).describe('The x-llm-feature whose exchanges are kept'),
          sampleRate: z.number().min(0).max(1).default(1).describe('Share of its eligible exchanges kept'),
          maxPerDay: z.number().int().positive().default(1000).describe('At most this many a day (UTC), per gateway process'),
        }))
        .default([])
        .describe('Opt-in per feature: nothing is captured for a feature not listed'),
      models: z.array(z.string().min(1)).optional().describe("Only answers of these models are kept (the teacher). Default: routing.baselineModel"),
      path: z.string().min(1).optional().describe('Directory for the JSONL files (llm-finops local): <path>/<feature>/<yyyy-mm-dd>.jsonl. On AWS the CaptureStore bucket bound to the router is used instead'),
      queueSize: positiveInt.max(100_000).default(1000).describe('Exchanges waiting to be scrubbed and written; past it new ones are dropped and counted, the request never waits'),
    })
    .prefault({})
    .describe('Training data for the small-model path: premium answers of opted-in features of consenting tenants, PII and secrets scrubbed before the write'),
  shadow: z
    .strictObject({
      policies: z
        .array(z.strictObject({
          feature: z.string().min(1).max(57).describe('The x-llm-feature whose premium answers are shadowed (its shadow calls are recorded as shadow.<feature>, within the 64 characters a feature may have)'),
          model: z.string().min(1).describe('The candidate (small) model, asked the same request in the background'),
          sampleRate: z.number().min(0).max(1).default(0.1).describe('Share of the eligible requests shadowed'),
          scorer: z.enum(['exact', 'json-fields', 'similarity']).default('exact')
            .describe('How agreement with the premium answer is scored: exact (classification labels), json-fields (share of the premium JSON\'s fields the candidate matches), similarity (word-overlap F1, for free text)'),
          maxPerDay: z.number().int().positive().default(1000).describe('At most this many shadow calls a day (UTC), per gateway process'),
          switchBack: z.strictObject({
            below: z.number().gt(0).max(1).describe('Send the feature back to its tier\'s last (premium) model when the mean agreement of the last `window` scores falls below this'),
            window: positiveInt.max(10_000).default(100).describe('Shadow scores the mean is taken over'),
            minSamples: positiveInt.max(10_000).default(30).describe('No decision on fewer scores than this'),
            retryAfterMinutes: positiveInt.max(10_080).default(60).describe('Then the small model is tried again, with an empty window'),
          }).optional()
            .describe('For a feature switched to a small model (routing.features, with this policy\'s model the premium one): the guard on agreement, per gateway process; one switch_back alert per feature and retry period'),
        }))
        .default([])
        .describe('Shadow tests of a candidate model: the client gets the premium answer; the candidate\'s is recorded (feature shadow.<feature>, its own spend and quota scope) and scored against it (a feedback line)'),
    })
    .prefault({}),
  prices: z.record(z.string().min(1), UsdTokenPriceSchema).default({}).describe('Price overrides keyed by priceId; win over the catalog'),
  usage: z
    .strictObject({
      sink: z.enum(['stdout', 'jsonl', 'none']).default('stdout'),
      path: z.string().min(1).optional().describe('JSONL file for sink=jsonl'),
    })
    .prefault({}),
  server: z
    .strictObject({
      maxBodyBytes: positiveInt.max(20_000_000).default(1_048_576),
      maxUpstreamResponseBytes: positiveInt.max(1_073_741_824).default(16_777_216)
        .describe('Largest answer an upstream may send (JSON or a whole stream); past it the attempt fails and falls back'),
    })
    .prefault({}),
});

export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type LimitSet = z.output<typeof LimitSetSchema>;
export type PolicyConfig = z.output<typeof PolicySchema>;
export type PolicyWindow = z.output<typeof PolicyWindowSchema>;
export type ProviderConfig = z.output<typeof ProviderSchema>;
export type ModelConfig = z.output<typeof ModelSchema>;
export type TenantConfig = z.output<typeof TenantSchema>;
export type ContextPolicyConfig = z.output<typeof GatewayConfigSchema>['context']['policies'][number];
export type ServiceTierPolicyConfig = z.output<typeof GatewayConfigSchema>['serviceTiers']['policies'][number];
