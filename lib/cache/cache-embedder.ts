import * as iam from 'aws-cdk-lib/aws-iam';
import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV_SEMANTIC_EMBEDDER } from '../../lambda/contract';
import type { ILayeredRouterBinding } from '../gateway/router-binding';
import { SentenceEncoderLayer } from './sentence-encoder-layer';

/** Titan Text Embeddings options. */
export interface TitanEmbedderOptions {
  /**
   * Bedrock embedding model id.
   * @default 'amazon.titan-embed-text-v2:0'
   */
  readonly model?: string;
  /**
   * Vector size: Titan Text Embeddings V2 makes 256, 512 or 1024. Smaller is cheaper to store and search and a
   * little less precise.
   * @default 1024
   */
  readonly dimensions?: number;
}

/**
 * How the router turns prompts into the vectors the semantic cache compares. The sentence encoder is the default:
 * it runs inside the router (no per-token bill, no network hop) and is the embedder whose threshold, guards and
 * verifier were measured (docs/semantic-cache.md). Titan is billed per token and its threshold is not measured
 * offline: calibrate it on your own pairs with `llm-finops cache calibrate` before relying on its hits.
 */
export class CacheEmbedder {
  /** Universal Sentence Encoder lite (512 dimensions, English), in the router, its weights in a layer. */
  static sentenceEncoder(): CacheEmbedder {
    return new CacheEmbedder('sentence', 512);
  }

  /** Amazon Titan Text Embeddings on Bedrock. */
  static titan(options: TitanEmbedderOptions = {}): CacheEmbedder {
    const dimensions = options.dimensions ?? 1024;
    if (![256, 512, 1024].includes(dimensions)) throw new Error(`CacheEmbedder.titan: dimensions: Titan Text Embeddings V2 makes 256, 512 or 1024, got ${dimensions}`);
    const model = options.model ?? 'amazon.titan-embed-text-v2:0';
    if (!model.trim()) throw new Error('CacheEmbedder.titan: model: expected a Bedrock model id');
    return new CacheEmbedder('bedrock', dimensions, model);
  }

  private constructor(
    /** The router's embedder (its config's `embedder.type`): `sentence` or `bedrock`. */
    readonly kind: string,
    /** Vector size, which the index is created with. */
    readonly dimensions: number,
    /** The Bedrock model id (Titan only). */
    readonly model?: string,
  ) {}

  /** Sets the router's embedder and gives it what it needs: the encoder's layer, or InvokeModel on the model. */
  bind(scope: Construct, fn: ILayeredRouterBinding): void {
    if (this.kind === 'sentence') {
      fn.addEnvironment(ENV_SEMANTIC_EMBEDDER, JSON.stringify({ type: 'sentence' }));
      SentenceEncoderLayer.attach(scope, fn);
      return;
    }
    fn.addEnvironment(ENV_SEMANTIC_EMBEDDER, JSON.stringify({ type: 'bedrock', model: this.model, dimensions: this.dimensions }));
    this.grantEmbedding(scope, fn);
  }

  /** Grants bedrock:InvokeModel on the Titan model in the stack's Region (nothing for the sentence encoder). */
  grantEmbedding(scope: Construct, grantee: iam.IGrantable): iam.Grant | undefined {
    if (this.kind !== 'bedrock') return undefined;
    const stack = Stack.of(scope);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['bedrock:InvokeModel'],
      resourceArns: [`arn:${stack.partition}:bedrock:${stack.region}::foundation-model/${this.model}`],
    });
  }
}
