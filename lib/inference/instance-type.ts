/** What an instance computes with. */
export enum AcceleratorKind {
  /** AWS Inferentia2 (Neuron cores). */
  NEURON = 'neuron',
  /** NVIDIA GPUs. */
  GPU = 'gpu',
  /** CPU only. */
  CPU = 'cpu',
}

/**
 * A SageMaker hosting instance type, with its accelerator kind, accelerator devices (Neuron cores on inf2, GPUs on
 * g5 / g6) and host memory. `of()` takes any other ml.* type.
 */
export class InferenceInstanceType {
  /** 1 Inferentia2 chip = 2 Neuron cores, 32 GB accelerator memory; 4 vCPU, 16 GiB. Models up to ~8B parameters (bf16). */
  static readonly INF2_XLARGE = new InferenceInstanceType('ml.inf2.xlarge', AcceleratorKind.NEURON, 2, 16);
  /** 1 Inferentia2 chip = 2 Neuron cores; 32 vCPU, 128 GiB (for compiling and larger host memory). */
  static readonly INF2_8XLARGE = new InferenceInstanceType('ml.inf2.8xlarge', AcceleratorKind.NEURON, 2, 128);
  /** 6 Inferentia2 chips = 12 Neuron cores, 192 GB accelerator memory; 96 vCPU, 384 GiB. */
  static readonly INF2_24XLARGE = new InferenceInstanceType('ml.inf2.24xlarge', AcceleratorKind.NEURON, 12, 384);
  /** 12 Inferentia2 chips = 24 Neuron cores, 384 GB accelerator memory; 192 vCPU, 768 GiB. ~70B parameters. */
  static readonly INF2_48XLARGE = new InferenceInstanceType('ml.inf2.48xlarge', AcceleratorKind.NEURON, 24, 768);
  /** 1 NVIDIA A10G (24 GB); 4 vCPU, 16 GiB. */
  static readonly G5_XLARGE = new InferenceInstanceType('ml.g5.xlarge', AcceleratorKind.GPU, 1, 16);
  /** 1 NVIDIA A10G; 8 vCPU, 32 GiB. */
  static readonly G5_2XLARGE = new InferenceInstanceType('ml.g5.2xlarge', AcceleratorKind.GPU, 1, 32);
  /** 1 NVIDIA A10G; 16 vCPU, 64 GiB. */
  static readonly G5_4XLARGE = new InferenceInstanceType('ml.g5.4xlarge', AcceleratorKind.GPU, 1, 64);
  /** 4 NVIDIA A10G (96 GB); 48 vCPU, 192 GiB. */
  static readonly G5_12XLARGE = new InferenceInstanceType('ml.g5.12xlarge', AcceleratorKind.GPU, 4, 192);
  /** 8 NVIDIA A10G (192 GB); 192 vCPU, 768 GiB. */
  static readonly G5_48XLARGE = new InferenceInstanceType('ml.g5.48xlarge', AcceleratorKind.GPU, 8, 768);
  /** 1 NVIDIA L4 (24 GB); 4 vCPU, 16 GiB. */
  static readonly G6_XLARGE = new InferenceInstanceType('ml.g6.xlarge', AcceleratorKind.GPU, 1, 16);
  /** 1 NVIDIA L4; 8 vCPU, 32 GiB. */
  static readonly G6_2XLARGE = new InferenceInstanceType('ml.g6.2xlarge', AcceleratorKind.GPU, 1, 32);
  /** 4 NVIDIA L4 (96 GB); 48 vCPU, 192 GiB. */
  static readonly G6_12XLARGE = new InferenceInstanceType('ml.g6.12xlarge', AcceleratorKind.GPU, 4, 192);
  /** 8 NVIDIA L4 (192 GB); 192 vCPU, 768 GiB. */
  static readonly G6_48XLARGE = new InferenceInstanceType('ml.g6.48xlarge', AcceleratorKind.GPU, 8, 768);
  /** CPU only, 4 vCPU, 16 GiB: small models (embeddings, classifiers, SLMs under ~1B parameters). */
  static readonly M5_XLARGE = new InferenceInstanceType('ml.m5.xlarge', AcceleratorKind.CPU, 0, 16);

  /**
   * Any SageMaker hosting type by name. inf2 and the g4dn / g5 / g6 / g6e / p4d / p5 families are recognised as
   * accelerated (their device count from the size when known, else pass `acceleratorDevices`); others are CPU.
   */
  static of(name: string, acceleratorDevices?: number, memoryGib?: number): InferenceInstanceType {
    const known = ALL_TYPES.find((t) => t.name === name);
    if (known && acceleratorDevices === undefined && memoryGib === undefined) return known;
    if (!/^ml\.[a-z0-9-]+\.[a-z0-9]+$/.test(name)) throw new Error(`InferenceInstanceType.of: '${name}' is not a SageMaker instance type (ml.<family>.<size>)`);
    const family = name.split('.')[1];
    const kind = family === 'inf2' ? AcceleratorKind.NEURON : /^(g4dn|g5|g6|g6e|p4d|p4de|p5|p5e)$/.test(family) ? AcceleratorKind.GPU : AcceleratorKind.CPU;
    const devices = acceleratorDevices ?? known?.acceleratorDevices ?? (kind === AcceleratorKind.CPU ? 0 : 1);
    return new InferenceInstanceType(name, kind, devices, memoryGib ?? known?.memoryGib ?? 16);
  }

  private constructor(
    /** e.g. ml.inf2.xlarge */
    readonly name: string,
    readonly accelerator: AcceleratorKind,
    /** Neuron cores (inf2) or GPUs; 0 for CPU types. */
    readonly acceleratorDevices: number,
    /** Host memory in GiB. */
    readonly memoryGib: number,
  ) {}

  /**
   * True for types with local NVMe instance storage (g4dn, g5, g6, g6e, p4d, p5 and the `d` variants): SageMaker
   * encrypts that storage with a hardware module and refuses a KMS key for the volume.
   */
  get hasInstanceStorage(): boolean {
    const family = this.name.split('.')[1];
    return /^(g4dn|g5|g6|g6e|p4d|p4de|p5|p5e)$/.test(family) || /^[a-z]+\d+[a-z]*d$/.test(family);
  }
}

const ALL_TYPES = [
  InferenceInstanceType.INF2_XLARGE, InferenceInstanceType.INF2_8XLARGE, InferenceInstanceType.INF2_24XLARGE, InferenceInstanceType.INF2_48XLARGE,
  InferenceInstanceType.G5_XLARGE, InferenceInstanceType.G5_2XLARGE, InferenceInstanceType.G5_4XLARGE, InferenceInstanceType.G5_12XLARGE, InferenceInstanceType.G5_48XLARGE,
  InferenceInstanceType.G6_XLARGE, InferenceInstanceType.G6_2XLARGE, InferenceInstanceType.G6_12XLARGE, InferenceInstanceType.G6_48XLARGE,
  InferenceInstanceType.M5_XLARGE,
];
