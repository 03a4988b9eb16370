import { Annotations, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { FactName } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { catalogInstancePrice } from '../bundles';
import { sageMakerEndpointArns } from '../gateway/config-resources';
import { ContainerFamily, type InferenceContainer } from './inference-container';
import { type EndpointAutoScaling, type InferenceEndpointProps, ScalingMetric } from './inference-endpoint-props';
import { AcceleratorKind, InferenceInstanceType } from './instance-type';

const HOURS_PER_MONTH = 730;


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
    const d = derive(props);
    this.instanceType = d.type;
    this.endpointName = props.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-' }).replace(/[^a-zA-Z0-9-]/g, '-');
    this.validate(props, d);
    const { role, image } = this.buildRole(props, d);
    this.role = role;
    const { model, vpcConfig } = this.buildModel(props, d, image);
    this.cfnModel = model;
    const { config, endpoint } = this.buildEndpoint(props, d, vpcConfig);
    this.cfnEndpointConfig = config;
    this.cfnEndpoint = endpoint;
    if (d.ic) {
      this.inferenceComponentName = `${this.endpointName.slice(0, 55)}-model`;
      this.cfnInferenceComponent = this.buildInferenceComponent(d, this.inferenceComponentName);
    }
    if (d.scaling) {
      const { target, fromZeroAlarm } = this.buildAutoscaling(d, d.scaling);
      this.scalableTarget = target;
      this.scaleFromZeroAlarm = fromZeroAlarm;
    }
    // Cost at minimum capacity.
    this.minimumInstances = d.minInstances;
    const price = catalogInstancePrice(d.type.name);
    this.instanceHourlyUsd = price?.usdPerHour;
    this.minimumMonthlyCostUsd = price ? Math.round(d.minInstances * price.usdPerHour * HOURS_PER_MONTH * 100) / 100 : undefined;
    if (!price) {
      Annotations.of(this).addWarningV2('cdk-llm-finops:noInstancePrice', `The price catalog has no instance-hour price for ${d.type.name}: the gateway config needs models[].price for it, and the estimate cannot price it.`);
    }
  }

  /** Every rule, each problem named. */
  private validate(props: InferenceEndpointProps, d: Derived): void {
    const problems: string[] = [];
    if (d.container.accelerator !== d.type.accelerator) {
      problems.push(`container: a ${d.container.accelerator} container on ${d.type.name} (${d.type.accelerator}); use ${d.type.accelerator === AcceleratorKind.NEURON ? 'InferenceContainer.lmiNeuron() or tgiNeuron()' : d.type.accelerator === AcceleratorKind.GPU ? 'InferenceContainer.lmiGpu() or tgiGpu()' : 'InferenceContainer.lmiCpu()'}`);
    }
    if (d.tp !== undefined) {
      if (!Number.isInteger(d.tp) || d.tp < 1) problems.push(`tensorParallelDegree: expected a positive integer, got ${d.tp}`);
      else if (d.devices === 0) problems.push(`tensorParallelDegree: ${d.type.name} has no accelerator to shard across`);
      else if (d.tp > d.devices || d.devices % d.tp !== 0) problems.push(`tensorParallelDegree: ${d.tp} does not divide the ${d.devices} ${d.type.accelerator === AcceleratorKind.NEURON ? 'Neuron cores' : 'GPUs'} of ${d.type.name}`);
    }
    if (!Number.isInteger(d.batch) || d.batch < 1 || d.batch > 256) problems.push(`maxBatchSize: expected an integer 1-256, got ${d.batch}`);
    if (!Number.isInteger(d.seqLen) || d.seqLen < 128 || d.seqLen > 131072) problems.push(`maxSequenceLength: expected an integer 128-131072, got ${d.seqLen}`);
    if (!Token.isUnresolved(this.endpointName) && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(this.endpointName)) problems.push(`endpointName: letters, digits and '-', 63 at most, got '${this.endpointName}'`);
    if (d.isolation && props.model.huggingFaceId !== undefined) problems.push('networkIsolation: a Hugging Face model id is downloaded at start and needs the network; use ModelSource.s3 for an isolated endpoint');
    if (props.encryptionKey && d.type.hasInstanceStorage) problems.push(`encryptionKey: ${d.type.name} has instance storage, which SageMaker encrypts itself and for which it refuses a KMS key`);
    if (d.scaling) {
      const { minCapacity: min, maxCapacity: max } = d.scaling;
      if (!Number.isInteger(min) || min < 0) problems.push(`scaling.minCapacity: expected an integer >= 0, got ${min}`);
      if (!Number.isInteger(max) || max < 1) problems.push(`scaling.maxCapacity: expected an integer >= 1, got ${max}`);
      if (min > max) problems.push(`scaling: minCapacity ${min} is above maxCapacity ${max}`);
      if (min === 0 && !d.ic) problems.push('scaling.minCapacity: 0 (scale to zero) needs inferenceComponents: true; a SageMaker endpoint can only scale to zero instances when it hosts inference components');
      if (d.scaling.targetValue !== undefined && !(d.scaling.targetValue > 0)) problems.push(`d.scaling.targetValue: expected a positive number, got ${d.scaling.targetValue}`);
      for (const [i, s] of (d.scaling.schedules ?? []).entries()) {
        if (s.minCapacity === undefined && s.maxCapacity === undefined) problems.push(`scaling.schedules[${i}]: sets neither minCapacity nor maxCapacity`);
        if (s.minCapacity === 0 && !d.ic) problems.push(`scaling.schedules[${i}].minCapacity: 0 needs inferenceComponents: true`);
        if (s.minCapacity !== undefined && s.maxCapacity !== undefined && s.minCapacity > s.maxCapacity) problems.push(`scaling.schedules[${i}]: minCapacity above maxCapacity`);
      }
      if (props.instanceCount !== undefined) problems.push('instanceCount: set the capacity with scaling.minCapacity / maxCapacity instead');
    }
    if (!Number.isInteger(d.count) || d.count < 1) problems.push(`instanceCount: expected an integer >= 1, got ${d.count}`);
    if (props.dataCapture?.samplingPercent !== undefined && !(props.dataCapture.samplingPercent > 0 && props.dataCapture.samplingPercent <= 100)) {
      problems.push(`dataCapture.samplingPercent: expected 1-100, got ${props.dataCapture.samplingPercent}`);
    }
    if (problems.length) throw new Error(`Invalid InferenceEndpoint props:\n  - ${problems.join('\n  - ')}`);

  }

  /** The execution role: pull the image, read the model, write logs and metrics. */
  private buildRole(props: InferenceEndpointProps, d: Derived): { role: iam.Role; image: string } {
    const stack = Stack.of(this);
    const container = d.container;
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `cdk-llm-finops inference endpoint ${this.endpointName}`,
    });
    let image: string;
    if (container.imageUri) {
      image = container.imageUri;
      const repo = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(container.imageUri);
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [repo ? `arn:${stack.partition}:ecr:${repo[2]}:${repo[1]}:repository/${repo[3]}` : `arn:${stack.partition}:ecr:${stack.region}:${stack.account}:repository/*`],
      }));
    } else {
      const account = stack.regionalFact(FactName.DLC_REPOSITORY_ACCOUNT);
      image = `${account}.dkr.ecr.${stack.region}.${stack.urlSuffix}/${container.repository}:${container.tag}`;
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [`arn:${stack.partition}:ecr:${stack.region}:${account}:repository/${container.repository}`],
      }));
    }
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [`arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}`, `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}:log-stream:*`, `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/InferenceComponents/*`],
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'AWS/SageMaker'] } },
    }));
    props.model.bucket?.grantRead(role, `${props.model.prefix}*`);
    props.encryptionKey?.grantEncryptDecrypt(role);
    // cdk-nag writes pseudo parameters as <AWS::Region> / <AWS::AccountId> in finding ids.
    const nagRegion = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const nagAccount = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    Validations.of(role).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken and the VPC network-interface actions take no resource; cloudwatch:PutMetricData takes none either and is limited to the SageMaker namespaces by condition.' },
      { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${nagRegion}:${nagAccount}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}:log-stream:*]`, reason: 'Log streams of this endpoint only; SageMaker names them per instance.' },
      { id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${nagRegion}:${nagAccount}:log-group:/aws/sagemaker/InferenceComponents/*]`, reason: 'SageMaker writes inference component logs to groups named after the component and its copies.' },
    );

    return { role, image };
  }

  /** The model: the container, its environment, the weights' source and, in a VPC, its network. */
  private buildModel(props: InferenceEndpointProps, d: Derived, image: string): { model: sagemaker.CfnModel; vpcConfig?: sagemaker.CfnModel.VpcConfigProperty } {
    const environment: Record<string, string> = { ...this.defaultEnvironment(d.container, props, d.tp, d.batch, d.seqLen), ...props.environment };
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
    const model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      enableNetworkIsolation: d.isolation,
      vpcConfig,
      primaryContainer: {
        image,
        environment,
        ...(props.model.bucket ? {
          modelDataSource: { s3DataSource: { s3Uri: props.model.bucket.s3UrlForObject(props.model.prefix), s3DataType: 'S3Prefix', compressionType: 'None' } },
        } : {}),
      },
    });
    model.node.addDependency(this.role);

    return { model, vpcConfig };
  }

  /** The endpoint configuration (one variant, data capture), the endpoint and its log group. */
  private buildEndpoint(props: InferenceEndpointProps, d: Derived, vpcConfig?: sagemaker.CfnModel.VpcConfigProperty): { config: sagemaker.CfnEndpointConfig; endpoint: sagemaker.CfnEndpoint } {
    const { startup, minInstances, maxInstances, ic, isolation } = d;
    const variant: sagemaker.CfnEndpointConfig.ProductionVariantProperty = ic ? {
      variantName: VARIANT,
      instanceType: d.type.name,
      initialInstanceCount: Math.max(1, minInstances),
      managedInstanceScaling: { status: 'ENABLED', minInstanceCount: minInstances, maxInstanceCount: maxInstances },
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      containerStartupHealthCheckTimeoutInSeconds: startup,
      modelDataDownloadTimeoutInSeconds: startup,
    } : {
      variantName: VARIANT,
      modelName: this.cfnModel.attrModelName,
      instanceType: d.type.name,
      initialInstanceCount: minInstances,
      initialVariantWeight: 1,
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      containerStartupHealthCheckTimeoutInSeconds: startup,
      modelDataDownloadTimeoutInSeconds: startup,
    };
    const capture = props.dataCapture;
    capture?.bucket.grantPut(this.role, `${capture.prefix ?? 'data-capture/'}*`);
    const config = new sagemaker.CfnEndpointConfig(this, 'Config', {
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
    config.node.addDependency(this.role);
    const endpoint = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName: this.endpointName,
      endpointConfigName: config.attrEndpointConfigName,
    });
    // SageMaker creates its endpoint's log group on first write, with no retention: made first here, with one, and
    // deleted with the endpoint.
    const endpointLogs = new logs.LogGroup(this, 'EndpointLogs', {
      logGroupName: `/aws/sagemaker/Endpoints/${this.endpointName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    endpoint.node.addDependency(endpointLogs);

    return { config, endpoint };
  }

  /** The inference component: the model on the endpoint, its compute, its copies, and its log group. */
  private buildInferenceComponent(d: Derived, name: string): sagemaker.CfnInferenceComponent {
    const component = new sagemaker.CfnInferenceComponent(this, 'Component', {
      inferenceComponentName: name,
      endpointName: this.cfnEndpoint.attrEndpointName,
      variantName: VARIANT,
      specification: {
        modelName: this.cfnModel.attrModelName,
        // On inf2 this counts Neuron cores (2 per Inferentia2 chip), the unit the tensor-parallel degree is in. The API
        // reference says only "accelerators (GPUs and AWS Inferentia)"
        // (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_InferenceComponentComputeResourceRequirements.html);
        // whether SageMaker counts chips or cores on inf2 is unconfirmed without a deployment (docs/self-hosted.md).
        computeResourceRequirements: d.devices
          ? { numberOfAcceleratorDevicesRequired: d.tp ?? d.devices, minMemoryRequiredInMb: 1024 }
          : { numberOfCpuCoresRequired: 1, minMemoryRequiredInMb: 1024 },
        startupParameters: { containerStartupHealthCheckTimeoutInSeconds: d.startup, modelDataDownloadTimeoutInSeconds: d.startup },
      },
      // CloudFormation applies CopyCount on every update of this resource, over what autoscaling set: it is the
      // scaling floor, so an update never leaves more copies than autoscaling would keep. With scale to zero it is 1
      // unless loadOnDeploy is false: CopyCount 0 (which SageMaker accepts, API_InferenceComponentRuntimeConfig)
      // never loads the model, so a broken image would surface only as a failed scaling activity at the first
      // request; with 1 the deploy waits for a healthy copy, and target tracking scales it in afterwards.
      runtimeConfig: { copyCount: d.scaling?.minCapacity === 0 && d.scaling.loadOnDeploy !== false ? 1 : d.minInstances },
    });
    // Like the endpoint's: the component's log group (the prefix the role may write to, named after the component)
    // made first, with a retention, instead of created by SageMaker on first write with none.
    const componentLogs = new logs.LogGroup(this, 'ComponentLogs', {
      logGroupName: `/aws/sagemaker/InferenceComponents/${name}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    component.node.addDependency(componentLogs);
    return component;
  }

  /** Target tracking on the endpoint's variant or the component's copies, scale-out from zero, and the schedules. */
  private buildAutoscaling(d: Derived, scaling: EndpointAutoScaling): { target: appscaling.ScalableTarget; fromZeroAlarm?: cloudwatch.Alarm } {
    const target = new appscaling.ScalableTarget(this, 'Scaling', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: d.ic ? `inference-component/${this.inferenceComponentName}` : `endpoint/${this.endpointName}/variant/${VARIANT}`,
      scalableDimension: d.ic ? 'sagemaker:inference-component:DesiredCopyCount' : 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: scaling.minCapacity,
      maxCapacity: scaling.maxCapacity,
    });
    target.node.addDependency(this.cfnInferenceComponent ?? this.cfnEndpoint);
    const concurrent = (scaling.metric ?? ScalingMetric.CONCURRENT_REQUESTS) === ScalingMetric.CONCURRENT_REQUESTS;
    const predefined = d.ic
      ? (concurrent ? appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION : appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY)
      : (concurrent ? appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION : appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE);
    target.scaleToTrackMetric('Target', {
      predefinedMetric: predefined,
      targetValue: scaling.targetValue ?? (concurrent ? d.batch : 30),
      scaleInCooldown: scaling.scaleInCooldown ?? Duration.minutes(10),
      scaleOutCooldown: scaling.scaleOutCooldown ?? Duration.minutes(1),
    });
    let fromZeroAlarm: cloudwatch.Alarm | undefined;
    if (d.ic && scaling.minCapacity === 0) {
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
        cooldown: Duration.seconds(Math.max(d.startup, (scaling.scaleOutCooldown ?? Duration.minutes(1)).toSeconds())),
      });
      fromZero.addAdjustment({ lowerBound: 0, adjustment: 1 });
      fromZeroAlarm = new cloudwatch.Alarm(this, 'NoCapacityAlarm', {
        alarmDescription: `Requests to ${this.endpointName} found no model copy: scale out from zero`,
        metric: new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'NoCapacityInvocationFailures', dimensionsMap: { InferenceComponentName: this.inferenceComponentName! }, statistic: 'Maximum', period: Duration.minutes(1) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      fromZeroAlarm.addAlarmAction(new cwActions.ApplicationScalingAction(fromZero));
    }
    for (const s of scaling.schedules ?? []) {
      target.scaleOnSchedule(s.name, { schedule: s.schedule, timeZone: s.timeZone, minCapacity: s.minCapacity, maxCapacity: s.maxCapacity });
    }
    this.warnOnRaiseOnlySchedules(scaling);
    return { target, fromZeroAlarm };
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

/** What the props come to, once defaults are applied: shared by the validation and every builder. */
interface Derived {
  readonly type: InferenceInstanceType;
  readonly container: InferenceContainer;
  readonly scaling?: EndpointAutoScaling;
  readonly ic: boolean;
  readonly devices: number;
  readonly tp?: number;
  readonly batch: number;
  readonly seqLen: number;
  readonly isolation: boolean;
  readonly count: number;
  readonly startup: number;
  readonly minInstances: number;
  readonly maxInstances: number;
}

function derive(props: InferenceEndpointProps): Derived {
  const type = props.instanceType;
  const devices = type.acceleratorDevices;
  const count = props.instanceCount ?? 1;
  return {
    type,
    container: props.container,
    scaling: props.scaling,
    ic: props.inferenceComponents ?? false,
    devices,
    tp: props.tensorParallelDegree ?? (devices || undefined),
    batch: props.maxBatchSize ?? 4,
    seqLen: props.maxSequenceLength ?? 4096,
    isolation: props.networkIsolation ?? props.model.huggingFaceId === undefined,
    count,
    startup: Math.min(3600, Math.max(60, (props.startupTimeout ?? Duration.minutes(20)).toSeconds())),
    minInstances: props.scaling ? props.scaling.minCapacity : count,
    maxInstances: props.scaling ? props.scaling.maxCapacity : count,
  };
}
