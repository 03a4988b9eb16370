import { Annotations, Duration, Names, RemovalPolicy, Stack, type TimeZone, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { FactName } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { catalogInstancePrice } from '../bundles';
import { sageMakerEndpointArns } from '../gateway/config-resources';

/** What an instance computes with. */
export enum AcceleratorKind {
  /** AWS Inferentia2 (Neuron cores). */
  NEURON = 'neuron',
  /** NVIDIA GPUs. */
  GPU = 'gpu',
  /** CPU only. */
  CPU = 'cpu',
}

const HOURS_PER_MONTH = 730;

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

/** The metric autoscaling tracks. */
export enum ScalingMetric {
  /** Concurrent requests per model copy / instance, high resolution (10 s): reacts within a minute. */
  CONCURRENT_REQUESTS = 'concurrent-requests',
  /** Invocations per minute per copy / instance. */
  INVOCATIONS = 'invocations',
}

/** A scheduled change of the capacity bounds, e.g. business hours. */
export interface ScalingSchedule {
  /** Unique name of the scheduled action within this endpoint. */
  readonly name: string;
  /** When, e.g. `appscaling.Schedule.cron({ hour: '8', minute: '0', weekDay: 'MON-FRI' })`. */
  readonly schedule: appscaling.Schedule;
  /** @default - UTC */
  readonly timeZone?: TimeZone;
  /** @default - unchanged */
  readonly minCapacity?: number;
  /** @default - unchanged */
  readonly maxCapacity?: number;
}

export interface EndpointAutoScaling {
  /**
   * Least instances (or, with inference components, model copies). 0 scales to zero: needs `inferenceComponents`.
   */
  readonly minCapacity: number;

  /** Most instances (or model copies). */
  readonly maxCapacity: number;

  /** @default ScalingMetric.CONCURRENT_REQUESTS */
  readonly metric?: ScalingMetric;

  /**
   * Target per copy / instance: concurrent requests (default: `maxBatchSize`, what one copy serves at once) or
   * invocations per minute (default 30).
   * @default - see above
   */
  readonly targetValue?: number;

  /**
   * Wait after a scale-in before the next: an LLM takes minutes to load, so scaling in eagerly makes the next burst
   * wait for a cold start.
   * @default Duration.minutes(10)
   */
  readonly scaleInCooldown?: Duration;

  /** @default Duration.minutes(1) */
  readonly scaleOutCooldown?: Duration;

  /** Scheduled changes of the bounds (e.g. min 1 in business hours, min 0 at night). @default - none */
  readonly schedules?: ScalingSchedule[];

  /**
   * With `minCapacity: 0`: load one model copy at every deploy, so CloudFormation waits for it to pass its health
   * check and rolls back a bad image, an out-of-memory or a wrong accelerator count instead of leaving them for the
   * first request; target tracking then scales the idle copy in to zero (about 15 minutes plus the scale-in
   * cooldown: roughly one instance-hour per deploy). false keeps CopyCount 0: a deploy starts nothing, and the first
   * request is the model's first test.
   * @default true
   */
  readonly loadOnDeploy?: boolean;
}

export interface DataCaptureOptions {
  /** Where request and response payloads are written. */
  readonly bucket: s3.IBucket;
  /** @default 'data-capture/' */
  readonly prefix?: string;
  /** @default 10 */
  readonly samplingPercent?: number;
}

export interface InferenceEndpointProps {
  readonly instanceType: InferenceInstanceType;
  readonly container: InferenceContainer;
  readonly model: ModelSource;

  /**
   * Accelerator devices the model is sharded across (Neuron cores on inf2, GPUs on g5 / g6).
   * @default - every device of the instance
   */
  readonly tensorParallelDegree?: number;

  /**
   * Requests served at once by one copy (on Inferentia, the batch size compiled in).
   * @default 4
   */
  readonly maxBatchSize?: number;

  /**
   * Longest prompt plus answer in tokens (on Inferentia, the sequence length compiled in).
   * @default 4096
   */
  readonly maxSequenceLength?: number;

  /** Extra container environment, over the generated one. @default - none */
  readonly environment?: Record<string, string>;

  /**
   * Host the model as an inference component (SageMaker's unit for copy-count scaling and scale-to-zero).
   * @default false
   */
  readonly inferenceComponents?: boolean;

  /**
   * Autoscaling. Without it the endpoint runs `instanceCount` instances all month.
   * @default - no autoscaling
   */
  readonly scaling?: EndpointAutoScaling;

  /**
   * Instances without autoscaling.
   * @default 1
   */
  readonly instanceCount?: number;

  /**
   * Endpoint name; a literal name lets the gateway config name it and be validated at synth.
   * @default - derived from the construct path (63 characters at most)
   */
  readonly endpointName?: string;

  /**
   * KMS key for the ML storage volume. Not allowed on types with instance storage (g5, g6, ...: see
   * InferenceInstanceType.hasInstanceStorage), which SageMaker encrypts itself.
   * @default - AWS managed encryption
   */
  readonly encryptionKey?: kms.IKey;

  /** Run the model in your VPC. @default - SageMaker's network */
  readonly vpc?: ec2.IVpc;
  /** @default - private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - a new security group without inbound rules */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * No network access from the container. Not possible with a Hugging Face model id (it downloads at start).
   * @default - true for an S3 model, false for a Hugging Face id
   */
  readonly networkIsolation?: boolean;

  /** Capture request and response payloads to S3. @default - off */
  readonly dataCapture?: DataCaptureOptions;

  /**
   * How long the container may take to load the model before SageMaker gives up (Neuron compilation at start is slow).
   * @default Duration.minutes(20)
   */
  readonly startupTimeout?: Duration;
}

const VARIANT = 'AllTraffic';

/**
 * A self-hosted model on SageMaker real-time inference: Model, EndpointConfig and Endpoint (and an inference
 * component for copy-count scaling and scale-to-zero), with autoscaling on concurrent requests or invocations,
 * scheduled bounds, and scale-out from zero on the NoCapacityInvocationFailures alarm. `gatewayModel()` makes it a
 * model of a gateway tier; the router falls back to the tier's next model while capacity arrives.
 */
export class InferenceEndpoint extends Construct {
  readonly endpointName: string;
  /** The inference component's name, when `inferenceComponents` is on. */
  readonly inferenceComponentName?: string;
  readonly instanceType: InferenceInstanceType;
  readonly role: iam.Role;
  readonly cfnModel: sagemaker.CfnModel;
  readonly cfnEndpointConfig: sagemaker.CfnEndpointConfig;
  readonly cfnEndpoint: sagemaker.CfnEndpoint;
  readonly cfnInferenceComponent?: sagemaker.CfnInferenceComponent;
  readonly scalableTarget?: appscaling.ScalableTarget;
  /** The alarm that scales out from zero copies. */
  readonly scaleFromZeroAlarm?: cloudwatch.Alarm;
  /** Instances that run all month at minimum capacity (scheduled minimums aside). */
  readonly minimumInstances: number;
  /** Catalog instance-hour price (USD), or undefined when the catalog has none for this type. */
  readonly instanceHourlyUsd?: number;
  /** minimumInstances x price x 730 h; undefined without a catalog price. `llm-finops estimate` computes the same from the template. */
  readonly minimumMonthlyCostUsd?: number;

  constructor(scope: Construct, id: string, props: InferenceEndpointProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const type = props.instanceType;
    const container = props.container;
    const scaling = props.scaling;
    const ic = props.inferenceComponents ?? false;
    const devices = type.acceleratorDevices;
    const tp = props.tensorParallelDegree ?? (devices || undefined);
    const batch = props.maxBatchSize ?? 4;
    const seqLen = props.maxSequenceLength ?? 4096;
    const isolation = props.networkIsolation ?? props.model.huggingFaceId === undefined;
    this.instanceType = type;
    this.endpointName = props.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-' }).replace(/[^a-zA-Z0-9-]/g, '-');

    // Every rule, each problem named.
    const problems: string[] = [];
    if (container.accelerator !== type.accelerator) {
      problems.push(`container: a ${container.accelerator} container on ${type.name} (${type.accelerator}); use ${type.accelerator === AcceleratorKind.NEURON ? 'InferenceContainer.lmiNeuron() or tgiNeuron()' : type.accelerator === AcceleratorKind.GPU ? 'InferenceContainer.lmiGpu() or tgiGpu()' : 'InferenceContainer.lmiCpu()'}`);
    }
    if (tp !== undefined) {
      if (!Number.isInteger(tp) || tp < 1) problems.push(`tensorParallelDegree: expected a positive integer, got ${tp}`);
      else if (devices === 0) problems.push(`tensorParallelDegree: ${type.name} has no accelerator to shard across`);
      else if (tp > devices || devices % tp !== 0) problems.push(`tensorParallelDegree: ${tp} does not divide the ${devices} ${type.accelerator === AcceleratorKind.NEURON ? 'Neuron cores' : 'GPUs'} of ${type.name}`);
    }
    if (!Number.isInteger(batch) || batch < 1 || batch > 256) problems.push(`maxBatchSize: expected an integer 1-256, got ${batch}`);
    if (!Number.isInteger(seqLen) || seqLen < 128 || seqLen > 131072) problems.push(`maxSequenceLength: expected an integer 128-131072, got ${seqLen}`);
    if (!Token.isUnresolved(this.endpointName) && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(this.endpointName)) problems.push(`endpointName: letters, digits and '-', 63 at most, got '${this.endpointName}'`);
    if (isolation && props.model.huggingFaceId !== undefined) problems.push('networkIsolation: a Hugging Face model id is downloaded at start and needs the network; use ModelSource.s3 for an isolated endpoint');
    if (props.encryptionKey && type.hasInstanceStorage) problems.push(`encryptionKey: ${type.name} has instance storage, which SageMaker encrypts itself and for which it refuses a KMS key`);
    if (scaling) {
      const { minCapacity: min, maxCapacity: max } = scaling;
      if (!Number.isInteger(min) || min < 0) problems.push(`scaling.minCapacity: expected an integer >= 0, got ${min}`);
      if (!Number.isInteger(max) || max < 1) problems.push(`scaling.maxCapacity: expected an integer >= 1, got ${max}`);
      if (min > max) problems.push(`scaling: minCapacity ${min} is above maxCapacity ${max}`);
      if (min === 0 && !ic) problems.push('scaling.minCapacity: 0 (scale to zero) needs inferenceComponents: true; a SageMaker endpoint can only scale to zero instances when it hosts inference components');
      if (scaling.targetValue !== undefined && !(scaling.targetValue > 0)) problems.push(`scaling.targetValue: expected a positive number, got ${scaling.targetValue}`);
      for (const [i, s] of (scaling.schedules ?? []).entries()) {
        if (s.minCapacity === undefined && s.maxCapacity === undefined) problems.push(`scaling.schedules[${i}]: sets neither minCapacity nor maxCapacity`);
        if (s.minCapacity === 0 && !ic) problems.push(`scaling.schedules[${i}].minCapacity: 0 needs inferenceComponents: true`);
        if (s.minCapacity !== undefined && s.maxCapacity !== undefined && s.minCapacity > s.maxCapacity) problems.push(`scaling.schedules[${i}]: minCapacity above maxCapacity`);
      }
      if (props.instanceCount !== undefined) problems.push('instanceCount: set the capacity with scaling.minCapacity / maxCapacity instead');
    }
    const count = props.instanceCount ?? 1;
    if (!Number.isInteger(count) || count < 1) problems.push(`instanceCount: expected an integer >= 1, got ${count}`);
    if (props.dataCapture?.samplingPercent !== undefined && !(props.dataCapture.samplingPercent > 0 && props.dataCapture.samplingPercent <= 100)) {
      problems.push(`dataCapture.samplingPercent: expected 1-100, got ${props.dataCapture.samplingPercent}`);
    }
    if (problems.length) throw new Error(`Invalid InferenceEndpoint props:\n  - ${problems.join('\n  - ')}`);

    // Execution role: pull the image, read the model, write logs and metrics.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `cdk-llm-finops inference endpoint ${this.endpointName}`,
    });
    let image: string;
    if (container.imageUri) {
      image = container.imageUri;
      const repo = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(container.imageUri);
      this.role.addToPolicy(new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [repo ? `arn:${stack.partition}:ecr:${repo[2]}:${repo[1]}:repository/${repo[3]}` : `arn:${stack.partition}:ecr:${stack.region}:${stack.account}:repository/*`],
      }));
    } else {
      const account = stack.regionalFact(FactName.DLC_REPOSITORY_ACCOUNT);
      image = `${account}.dkr.ecr.${stack.region}.${stack.urlSuffix}/${container.repository}:${container.tag}`;
      this.role.addToPolicy(new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [`arn:${stack.partition}:ecr:${stack.region}:${account}:repository/${container.repository}`],
      }));
    }
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [`arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}`, `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}:log-stream:*`, `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/InferenceComponents/*`],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'AWS/SageMaker'] } },
    }));
    props.model.bucket?.grantRead(this.role, `${props.model.prefix}*`);
    props.encryptionKey?.grantEncryptDecrypt(this.role);
    // cdk-nag writes pseudo parameters as <AWS::Region> / <AWS::AccountId> in finding ids.
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    Validations.of(this.role).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken and the VPC network-interface actions take no resource; cloudwatch:PutMetricData takes none either and is limited to the SageMaker namespaces by condition.' },
      { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${nagRegion}:${nagAccount}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}:log-stream:*]`, reason: 'Log streams of this endpoint only; SageMaker names them per instance.' },
      { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${nagRegion}:${nagAccount}:log-group:/aws/sagemaker/InferenceComponents/*]`, reason: 'SageMaker writes inference component logs to groups named after the component and its copies.' },
    );

    // The model.
    const environment: Record<string, string> = { ...this.defaultEnvironment(container, props, tp, batch, seqLen), ...props.environment };
    let vpcConfig: sagemaker.CfnModel.VpcConfigProperty | undefined;
    if (props.vpc) {
      const securityGroups = props.securityGroups ?? [new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: `SageMaker endpoint ${this.endpointName}`, allowAllOutbound: true })];
      vpcConfig = {
        securityGroupIds: securityGroups.map((g) => g.securityGroupId),
        subnets: props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
      };
      // SageMaker places the endpoint's network interfaces in the subnets (these actions take no resource ARN).
      this.role.addToPolicy(new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
        resources: ['*'],
      }));
    }
    this.cfnModel = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      enableNetworkIsolation: isolation,
      vpcConfig,
      primaryContainer: {
        image,
        environment,
        ...(props.model.bucket ? {
          modelDataSource: { s3DataSource: { s3Uri: props.model.bucket.s3UrlForObject(props.model.prefix), s3DataType: 'S3Prefix', compressionType: 'None' } },
        } : {}),
      },
    });
    this.cfnModel.node.addDependency(this.role);

    // The endpoint configuration.
    const startup = Math.min(3600, Math.max(60, (props.startupTimeout ?? Duration.minutes(20)).toSeconds()));
    const minInstances = scaling ? scaling.minCapacity : count;
    const maxInstances = scaling ? scaling.maxCapacity : count;
    const variant: sagemaker.CfnEndpointConfig.ProductionVariantProperty = ic ? {
      variantName: VARIANT,
      instanceType: type.name,
      initialInstanceCount: Math.max(1, minInstances),
      managedInstanceScaling: { status: 'ENABLED', minInstanceCount: minInstances, maxInstanceCount: maxInstances },
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      containerStartupHealthCheckTimeoutInSeconds: startup,
      modelDataDownloadTimeoutInSeconds: startup,
    } : {
      variantName: VARIANT,
      modelName: this.cfnModel.attrModelName,
      instanceType: type.name,
      initialInstanceCount: minInstances,
      initialVariantWeight: 1,
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      containerStartupHealthCheckTimeoutInSeconds: startup,
      modelDataDownloadTimeoutInSeconds: startup,
    };
    const capture = props.dataCapture;
    capture?.bucket.grantPut(this.role, `${capture.prefix ?? 'data-capture/'}*`);
    this.cfnEndpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: [variant],
      // With inference components the endpoint config carries the execution role, the network isolation and the VPC
      // of the containers it hosts (CreateEndpointConfig: EnableNetworkIsolation, VpcConfig); the Model keeps them too.
      ...(ic ? { executionRoleArn: this.role.roleArn, enableNetworkIsolation: isolation, vpcConfig } : {}),
      kmsKeyId: props.encryptionKey?.keyArn,
      dataCaptureConfig: capture ? {
        enableCapture: true,
        initialSamplingPercentage: capture.samplingPercent ?? 10,
        destinationS3Uri: capture.bucket.s3UrlForObject(capture.prefix ?? 'data-capture/'),
        captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
        captureContentTypeHeader: { jsonContentTypes: ['application/json'] },
        kmsKeyId: props.encryptionKey?.keyArn,
      } : undefined,
    });
    this.cfnEndpointConfig.node.addDependency(this.role);
    this.cfnEndpoint = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName: this.endpointName,
      endpointConfigName: this.cfnEndpointConfig.attrEndpointConfigName,
    });
    // SageMaker creates its endpoint's log group on first write, with no retention: made first here, with one, and
    // deleted with the endpoint.
    const endpointLogs = new logs.LogGroup(this, 'EndpointLogs', {
      logGroupName: `/aws/sagemaker/Endpoints/${this.endpointName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.cfnEndpoint.node.addDependency(endpointLogs);

    if (ic) {
      this.inferenceComponentName = `${this.endpointName.slice(0, 55)}-model`;
      this.cfnInferenceComponent = new sagemaker.CfnInferenceComponent(this, 'Component', {
        inferenceComponentName: this.inferenceComponentName,
        endpointName: this.cfnEndpoint.attrEndpointName,
        variantName: VARIANT,
        specification: {
          modelName: this.cfnModel.attrModelName,
          // On inf2 this counts Neuron cores (2 per Inferentia2 chip), the unit the tensor-parallel degree is in. The API
          // reference says only "accelerators (GPUs and AWS Inferentia)"
          // (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_InferenceComponentComputeResourceRequirements.html);
          // whether SageMaker counts chips or cores on inf2 is unconfirmed without a deployment (docs/self-hosted.md).
          computeResourceRequirements: devices
            ? { numberOfAcceleratorDevicesRequired: tp ?? devices, minMemoryRequiredInMb: 1024 }
            : { numberOfCpuCoresRequired: 1, minMemoryRequiredInMb: 1024 },
          startupParameters: { containerStartupHealthCheckTimeoutInSeconds: startup, modelDataDownloadTimeoutInSeconds: startup },
        },
        // CloudFormation applies CopyCount on every update of this resource, over what autoscaling set: it is the
        // scaling floor, so an update never leaves more copies than autoscaling would keep. With scale to zero it is 1
        // unless loadOnDeploy is false: CopyCount 0 (which SageMaker accepts, API_InferenceComponentRuntimeConfig)
        // never loads the model, so a broken image would surface only as a failed scaling activity at the first
        // request; with 1 the deploy waits for a healthy copy, and target tracking scales it in afterwards.
        runtimeConfig: { copyCount: scaling?.minCapacity === 0 && scaling.loadOnDeploy !== false ? 1 : minInstances },
      });
      // Like the endpoint's: the component's log group (the prefix the role may write to, named after the component)
      // made first, with a retention, instead of created by SageMaker on first write with none.
      const componentLogs = new logs.LogGroup(this, 'ComponentLogs', {
        logGroupName: `/aws/sagemaker/InferenceComponents/${this.inferenceComponentName}`,
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.cfnInferenceComponent.node.addDependency(componentLogs);
    }

    // Autoscaling.
    if (scaling) {
      const target = new appscaling.ScalableTarget(this, 'Scaling', {
        serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
        resourceId: ic ? `inference-component/${this.inferenceComponentName}` : `endpoint/${this.endpointName}/variant/${VARIANT}`,
        scalableDimension: ic ? 'sagemaker:inference-component:DesiredCopyCount' : 'sagemaker:variant:DesiredInstanceCount',
        minCapacity: scaling.minCapacity,
        maxCapacity: scaling.maxCapacity,
      });
      target.node.addDependency(this.cfnInferenceComponent ?? this.cfnEndpoint);
      const concurrent = (scaling.metric ?? ScalingMetric.CONCURRENT_REQUESTS) === ScalingMetric.CONCURRENT_REQUESTS;
      const predefined = ic
        ? (concurrent ? appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION : appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY)
        : (concurrent ? appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION : appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE);
      target.scaleToTrackMetric('Target', {
        predefinedMetric: predefined,
        targetValue: scaling.targetValue ?? (concurrent ? batch : 30),
        scaleInCooldown: scaling.scaleInCooldown ?? Duration.minutes(10),
        scaleOutCooldown: scaling.scaleOutCooldown ?? Duration.minutes(1),
      });
      if (ic && scaling.minCapacity === 0) {
        // Target tracking cannot leave zero (no copy, no per-copy metric): a request that finds no capacity fails,
        // SageMaker counts it in NoCapacityInvocationFailures, and this step policy adds a copy.
        // The alarm re-runs this action every minute while in ALARM, and the router keeps sending requests that find
        // no copy while the first one loads (minutes). The cooldown spans a whole model load (the startup timeout):
        // within it, a re-run counts the copy already added (Application Auto Scaling step-scaling cooldown), so a
        // wake-up adds one copy, not one a minute up to maxCapacity; target tracking takes it from there.
        const fromZero = new appscaling.StepScalingAction(this, 'ScaleOutFromZero', {
          scalingTarget: target,
          adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
          metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
          cooldown: Duration.seconds(Math.max(startup, (scaling.scaleOutCooldown ?? Duration.minutes(1)).toSeconds())),
        });
        fromZero.addAdjustment({ lowerBound: 0, adjustment: 1 });
        this.scaleFromZeroAlarm = new cloudwatch.Alarm(this, 'NoCapacityAlarm', {
          alarmDescription: `Requests to ${this.endpointName} found no model copy: scale out from zero`,
          metric: new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'NoCapacityInvocationFailures', dimensionsMap: { InferenceComponentName: this.inferenceComponentName! }, statistic: 'Maximum', period: Duration.minutes(1) }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
        this.scaleFromZeroAlarm.addAlarmAction(new cwActions.ApplicationScalingAction(fromZero));
      }
      for (const s of scaling.schedules ?? []) {
        target.scaleOnSchedule(s.name, { schedule: s.schedule, timeZone: s.timeZone, minCapacity: s.minCapacity, maxCapacity: s.maxCapacity });
      }
      this.warnOnRaiseOnlySchedules(scaling);
      this.scalableTarget = target;
    }

    // Cost at minimum capacity.
    this.minimumInstances = minInstances;
    const price = catalogInstancePrice(type.name);
    this.instanceHourlyUsd = price?.usdPerHour;
    this.minimumMonthlyCostUsd = price ? Math.round(minInstances * price.usdPerHour * HOURS_PER_MONTH * 100) / 100 : undefined;
    if (!price) {
      Annotations.of(this).addWarningV2('cdk-llm-finops:noInstancePrice', `The price catalog has no instance-hour price for ${type.name}: the gateway config needs models[].price for it, and the estimate cannot price it.`);
    }
  }

  /**
   * A scheduled minimum stays until another scheduled action changes it: a schedule that raises the minimum (a
   * morning warm-up) with none that lowers it again keeps the endpoint at the raised floor around the clock.
   */
  private warnOnRaiseOnlySchedules(scaling: EndpointAutoScaling): void {
    const base = scaling.minCapacity;
    const schedules = scaling.schedules ?? [];
    const raises = schedules.filter((s) => s.minCapacity !== undefined && s.minCapacity > base);
    if (!raises.length || schedules.some((s) => s.minCapacity !== undefined && s.minCapacity <= base)) return;
    Annotations.of(this).addWarningV2('cdk-llm-finops:scheduleOnlyRaises',
      `scaling.schedules ${raises.map((s) => `'${s.name}'`).join(', ')} raise the minimum above ${base} and no schedule lowers it again: ` +
      'from the first time it fires the endpoint keeps that floor around the clock. Add a schedule that sets minCapacity back (e.g. in the evening).');
  }

  /** The container environment for the family: model, sharding, batch and sequence length, the messages API. */
  private defaultEnvironment(container: InferenceContainer, props: InferenceEndpointProps, tp: number | undefined, batch: number, seqLen: number): Record<string, string> {
    const modelId = props.model.huggingFaceId ?? '/opt/ml/model';
    const env: Record<string, string> = {};
    if (container.family === ContainerFamily.LMI) {
      env.HF_MODEL_ID = modelId;
      env.OPTION_ROLLING_BATCH = container.accelerator === AcceleratorKind.NEURON ? 'auto' : container.accelerator === AcceleratorKind.GPU ? 'vllm' : 'disable';
      env.OPTION_MAX_ROLLING_BATCH_SIZE = String(batch);
      if (tp) env.OPTION_TENSOR_PARALLEL_DEGREE = String(tp);
      if (container.accelerator === AcceleratorKind.NEURON) env.OPTION_N_POSITIONS = String(seqLen);
      else env.OPTION_MAX_MODEL_LEN = String(seqLen);
    } else if (container.family === ContainerFamily.TGI) {
      env.HF_MODEL_ID = modelId;
      // The OpenAI messages API the router speaks (/invocations with {"messages": ...}).
      env.MESSAGES_API_ENABLED = 'true';
      env.MAX_BATCH_SIZE = String(batch);
      env.MAX_TOTAL_TOKENS = String(seqLen);
      env.MAX_INPUT_TOKENS = String(Math.floor(seqLen / 2));
      if (container.accelerator === AcceleratorKind.NEURON) {
        env.HF_NUM_CORES = String(tp ?? 2);
        env.HF_BATCH_SIZE = String(batch);
        env.HF_SEQUENCE_LENGTH = String(seqLen);
        env.HF_AUTO_CAST_TYPE = 'bf16';
      } else if (tp) {
        env.SM_NUM_GPUS = String(tp);
      }
    }
    return env;
  }

  /** The endpoint's ARN (SageMaker lower-cases names in ARNs). */
  get endpointArn(): string {
    return this.arns()[0];
  }

  /** sagemaker:InvokeEndpoint and InvokeEndpointWithResponseStream on this endpoint (and its inference component). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], resourceArns: this.arns() });
  }

  private arns(): string[] {
    const stack = Stack.of(this);
    return sageMakerEndpointArns(this.endpointName, this.inferenceComponentName, { partition: stack.partition, region: stack.region, account: stack.account });
  }

  /**
   * This endpoint as a model of the gateway config, billed by the instance-hour (the usage record says
   * `cost_basis: instance_hour`; attribution splits the hours from CUR). Put its id first in a tier, with a
   * per-token model after it: while a scaled-to-zero endpoint gets capacity, that model answers.
   */
  gatewayModel(id: string, providerId = 'sagemaker', maxOutputTokens?: number): { [key: string]: unknown } {
    return {
      id,
      provider: providerId,
      upstreamModel: this.endpointName,
      instanceType: this.instanceType.name,
      ...(this.inferenceComponentName ? { inferenceComponent: this.inferenceComponentName } : {}),
      ...(maxOutputTokens ? { maxOutputTokens } : {}),
    };
  }

  private metric(metricName: string, props: cloudwatch.MetricOptions | undefined, namespace = 'AWS/SageMaker'): cloudwatch.Metric {
    const dimensionsMap: Record<string, string> = this.inferenceComponentName && namespace === 'AWS/SageMaker'
      ? { InferenceComponentName: this.inferenceComponentName }
      : { EndpointName: this.endpointName, VariantName: VARIANT };
    return new cloudwatch.Metric({ namespace, metricName, dimensionsMap, period: Duration.minutes(1), ...props });
  }

  /** Requests served (Sum). */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocations', { statistic: 'Sum', ...props });
  }

  /** Time the model took, microseconds (Average; use p99 via props). */
  metricModelLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ModelLatency', { statistic: 'Average', ...props });
  }

  /** Requests the model answered with a 5xx (Sum). */
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation5XXErrors', { statistic: 'Sum', ...props });
  }

  /** Instances reporting utilisation (SampleCount of CPUUtilization per minute): the running instance count. */
  metricInstanceCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: '/aws/sagemaker/Endpoints', metricName: 'CPUUtilization', dimensionsMap: { EndpointName: this.endpointName, VariantName: VARIANT }, statistic: 'SampleCount', period: Duration.minutes(1), ...props });
  }

  /** Requests refused for lack of a model copy (scale to zero), Sum. */
  metricNoCapacityInvocationFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('NoCapacityInvocationFailures', { statistic: 'Sum', ...props });
  }
}
