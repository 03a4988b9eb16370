/**
 * Packages the router loads only when its config uses them: each comes through a `require()` in this file, never
 * a top-level import, and the adapters call these functions where they first need the package (types come from
 * `import type`, which costs nothing at run time).
 *
 * In the Lambda bundles (scripts/bundle.mjs) every `require()` of this file, and every `import()` inside a
 * dependency (the AWS SDK's credential providers), becomes a separate file under `lazy/` beside `index.js`: a cold
 * start neither reads nor compiles it until the call runs. A chunk carries its own copy of what it imports: a module
 * of ours may be one only if no class of it is checked with instanceof elsewhere (ProviderError is: the providers
 * stay in the entry), or only such a class as recognises its other copies (GatewayError, by a Symbol.for mark: the
 * codecs throw it). Under Jest, tsx and the CLI bundle it is a plain
 * `require`. Adding a package here is how a new optional adapter stays out of the cold start.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const openSearchClient = () => require('@opensearch-project/opensearch') as typeof import('@opensearch-project/opensearch');
export const openSearchAwsSigner = () => require('@opensearch-project/opensearch/aws') as typeof import('@opensearch-project/opensearch/aws');
export const awsCredentialProviderNode = () => require('@aws-sdk/credential-provider-node') as typeof import('@aws-sdk/credential-provider-node');
export const ioredis = () => require('ioredis') as typeof import('ioredis');
export const s3Client = () => require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
export const secretsManagerClient = () => require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
export const sageMakerRuntimeClient = () => require('@aws-sdk/client-sagemaker-runtime') as typeof import('@aws-sdk/client-sagemaker-runtime');
export const snsClient = () => require('@aws-sdk/client-sns') as typeof import('@aws-sdk/client-sns');
export const firehoseClient = () => require('@aws-sdk/client-firehose') as typeof import('@aws-sdk/client-firehose');
export const usearch = () => require('usearch') as typeof import('usearch');
// Ours, the Messages and Responses front doors: loaded with the first request of their format. Their errors are
// GatewayErrors of their own copy of core/errors.ts, which the entry recognises (GatewayError[Symbol.hasInstance]).
export const messagesCodec = () => (require('../core/formats/anthropic') as typeof import('../core/formats/anthropic')).MESSAGES_CODEC;
export const responsesCodec = () => (require('../core/formats/responses') as typeof import('../core/formats/responses')).RESPONSES_CODEC;
// Ours, the adapters only some configs use: loaded when the config names them. The providers' failures are
// ProviderErrors of their own copy of core/ports.ts, which the entry recognises (ProviderError[Symbol.hasInstance]).
export const anthropicProvider = () => require('./anthropic-provider') as typeof import('./anthropic-provider');
export const sageMakerProvider = () => require('./sagemaker-provider') as typeof import('./sagemaker-provider');
export const bedrockEmbedder = () => require('./bedrock-embedder') as typeof import('./bedrock-embedder');
export const openAiCompatibleEmbedder = () => require('./openai-compatible-embedder') as typeof import('./openai-compatible-embedder');
export const sentenceEmbedder = () => require('./sentence-embedder') as typeof import('./sentence-embedder');
// The encoder's code (TensorFlow.js, ~1.8 MB) and the built-in verifier (47 KB of weights): loaded when a config uses them.
export const sentencePackages = () => require('./sentence-packages') as typeof import('./sentence-packages');
export const sentenceVerifier = () => require('./sentence-verifier') as typeof import('./sentence-verifier');
export const openSearchIndex = () => require('./opensearch-semantic-index') as typeof import('./opensearch-semantic-index');
export const pineconeIndex = () => require('./pinecone-semantic-index') as typeof import('./pinecone-semantic-index');
export const valkeyIndex = () => require('./valkey-semantic-index') as typeof import('./valkey-semantic-index');
// Ours, the batch API on AWS (BatchLane): loaded by the first batch request or poller run. Its errors are GatewayErrors
// of its own copy of core/errors.ts, which the entry recognises.
export const awsBatchLaneModule = () => require('./aws-batch-lane') as typeof import('./aws-batch-lane');
// Ours, the capture of training data (the scrubber's rules, the directory sink): loaded when a feature opts in.
export const captureModule = () => require('../core/capture/capture') as typeof import('../core/capture/capture');
export const directoryCaptureSink = () => require('./directory-capture-sink') as typeof import('./directory-capture-sink');
export const s3CaptureSink = () => require('./s3-capture-sink') as typeof import('./s3-capture-sink');
// Ours, for llm-finops local only; safe as a separate copy: it shares no class whose identity is checked (instanceof).
export const embeddedIndex = () => require('./embedded-semantic-index') as typeof import('./embedded-semantic-index');
