import { AcceleratorKind } from './instance-type';

/** The serving stack inside the container. */
export enum ContainerFamily {
  /** Large Model Inference (DJL Serving: vLLM on GPU, transformers-neuronx on Inferentia, CPU). */
  LMI = 'lmi',
  /** Hugging Face Text Generation Inference (GPU, or optimum-neuron on Inferentia). */
  TGI = 'tgi',
  /** Your own image: you set its environment. */
  CUSTOM = 'custom',
}

/**
 * The serving container: an AWS Deep Learning Container from the region's DLC registry (the account comes from the
 * CDK region fact for deep learning container repositories), or your image. Default tags were current when this
 * release was cut; pass `tag` to pin another from the DLC list (github.com/aws/deep-learning-containers/available_images.md).
 */
export class InferenceContainer {
  /** LMI with transformers-neuronx, for inf2. */
  static lmiNeuron(tag = '0.30.0-neuronx-sdk2.20.1'): InferenceContainer {
    return new InferenceContainer(ContainerFamily.LMI, AcceleratorKind.NEURON, 'djl-inference', tag);
  }

  /** TGI with optimum-neuron, for inf2. */
  static tgiNeuron(tag = '2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04-v1.2'): InferenceContainer {
    return new InferenceContainer(ContainerFamily.TGI, AcceleratorKind.NEURON, 'huggingface-pytorch-tgi-inference', tag);
  }

  /** LMI with vLLM, for g5 / g6. */
  static lmiGpu(tag = '0.35.0-lmi17.0.0-cu128'): InferenceContainer {
    return new InferenceContainer(ContainerFamily.LMI, AcceleratorKind.GPU, 'djl-inference', tag);
  }

  /** TGI, for g5 / g6. */
  static tgiGpu(tag = '2.6.0-tgi3.2.3-gpu-py311-cu124-ubuntu22.04-v2.0'): InferenceContainer {
    return new InferenceContainer(ContainerFamily.TGI, AcceleratorKind.GPU, 'huggingface-pytorch-tgi-inference', tag);
  }

  /** LMI on CPU, for small models. */
  static lmiCpu(tag = '0.29.0-cpu-full'): InferenceContainer {
    return new InferenceContainer(ContainerFamily.LMI, AcceleratorKind.CPU, 'djl-inference', tag);
  }

  /**
   * Your image (ECR URI). It must serve SageMaker's /invocations and /ping, and answer the OpenAI messages body the
   * router sends (`{"messages": [...], ...}`) with an OpenAI chat completion (and SSE for streaming).
   */
  static fromImage(imageUri: string, accelerator: AcceleratorKind): InferenceContainer {
    return new InferenceContainer(ContainerFamily.CUSTOM, accelerator, undefined, undefined, imageUri);
  }

  private constructor(
    readonly family: ContainerFamily,
    readonly accelerator: AcceleratorKind,
    /** DLC repository name. */
    readonly repository?: string,
    readonly tag?: string,
    readonly imageUri?: string,
  ) {}
}
