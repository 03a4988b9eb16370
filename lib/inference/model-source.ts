import type * as s3 from 'aws-cdk-lib/aws-s3';

/** Where the weights come from. */
export class ModelSource {
  /**
   * A Hugging Face Hub model id (e.g. `mistralai/Mistral-7B-Instruct-v0.3`), downloaded by the container at every
   * start: needs outbound internet (no network isolation) and suits public models. For gated models, and for faster
   * cold starts (scale from zero), copy the weights to S3 once and use `ModelSource.s3`.
   */
  static huggingFace(modelId: string): ModelSource {
    return new ModelSource(modelId, undefined, undefined);
  }

  /** An uncompressed model directory in S3 (config, tokenizer, safetensors; or Neuron-compiled artefacts), mounted at /opt/ml/model. */
  static s3(bucket: s3.IBucket, prefix: string): ModelSource {
    return new ModelSource(undefined, bucket, prefix.endsWith('/') ? prefix : `${prefix}/`);
  }

  private constructor(
    readonly huggingFaceId?: string,
    readonly bucket?: s3.IBucket,
    readonly prefix?: string,
  ) {}
}
