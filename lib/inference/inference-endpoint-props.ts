import type { Duration, TimeZone } from 'aws-cdk-lib';
import type * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { InferenceContainer } from './inference-container';
import type { InferenceInstanceType } from './instance-type';
import type { ModelSource } from './model-source';

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
