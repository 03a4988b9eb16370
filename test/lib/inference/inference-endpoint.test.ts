import { App, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AcceleratorKind, GatewayConfig, InferenceContainer, InferenceEndpoint, type InferenceEndpointProps, InferenceInstanceType, LlmGateway, ModelSource, ScalingMetric } from '../../../lib';

const stack = () => new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
const HF = ModelSource.huggingFace('mistralai/Mistral-7B-Instruct-v0.3');
/** A DLC image in us-east-1 as synthesised: the account from the region fact, the URL suffix a pseudo parameter. */
const dlc = (repoTag: string) => ({ 'Fn::Join': ['', ['763104351884.dkr.ecr.us-east-1.', { Ref: 'AWS::URLSuffix' }, `/${repoTag}`]] });

function synth(props: Partial<InferenceEndpointProps> & Pick<InferenceEndpointProps, 'instanceType' | 'container'>, s = stack()) {
  const endpoint = new InferenceEndpoint(s, 'Llm', { model: HF, endpointName: 'small-llm', ...props });
  return { endpoint, t: Template.fromStack(s), s };
}

describe('InferenceEndpoint', () => {
  describe('container families', () => {
    it('LMI Neuron on inf2: the region\'s DLC image, sharded over both Neuron cores, compiled batch and sequence length', () => {
      const { t, endpoint } = synth({ instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), maxBatchSize: 8, maxSequenceLength: 8192 });
      // The endpoint's log group exists before the endpoint, with a retention (SageMaker's own would keep logs for ever).
      t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/sagemaker/Endpoints/${endpoint.endpointName}`, RetentionInDays: 30 });
      t.hasResourceProperties('AWS::SageMaker::Model', {
        EnableNetworkIsolation: false,
        PrimaryContainer: {
          Image: dlc('djl-inference:0.30.0-neuronx-sdk2.20.1'),
          Environment: {
            HF_MODEL_ID: 'mistralai/Mistral-7B-Instruct-v0.3', OPTION_ROLLING_BATCH: 'auto', OPTION_TENSOR_PARALLEL_DEGREE: '2',
            OPTION_MAX_ROLLING_BATCH_SIZE: '8', OPTION_N_POSITIONS: '8192',
          },
        },
      });
      t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
        ProductionVariants: [{
          VariantName: 'AllTraffic', InstanceType: 'ml.inf2.xlarge', InitialInstanceCount: 1, ModelName: { 'Fn::GetAtt': [Match.stringLikeRegexp('LlmModel'), 'ModelName'] },
          ContainerStartupHealthCheckTimeoutInSeconds: 1200, ModelDataDownloadTimeoutInSeconds: 1200, RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
        }],
      });
      t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'small-llm' });
      t.resourceCountIs('AWS::SageMaker::InferenceComponent', 0);
      // The image pull is limited to that one DLC repository.
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:us-east-1:763104351884:repository/djl-inference']] } }]) },
      });
      // One instance all month: 730 h x $0.99 (catalog, unverified).
      expect(endpoint.minimumMonthlyCostUsd).toBe(722.7);
    });

    it('TGI Neuron on inf2.24xlarge from S3: mounted weights, network isolation, the messages API, 12 Neuron cores', () => {
      const s = stack();
      const bucket = new s3.Bucket(s, 'Models');
      const { t } = synth({ instanceType: InferenceInstanceType.INF2_24XLARGE, container: InferenceContainer.tgiNeuron(), model: ModelSource.s3(bucket, 'llama-3.1-8b-neuron') }, s);
      t.hasResourceProperties('AWS::SageMaker::Model', {
        EnableNetworkIsolation: true,
        PrimaryContainer: {
          Image: dlc('huggingface-pytorch-tgi-inference:2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04-v1.2'),
          ModelDataSource: { S3DataSource: { S3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('Models') }, '/llama-3.1-8b-neuron/']] }, S3DataType: 'S3Prefix', CompressionType: 'None' } },
          Environment: { HF_MODEL_ID: '/opt/ml/model', MESSAGES_API_ENABLED: 'true', HF_NUM_CORES: '12', HF_BATCH_SIZE: '4', HF_SEQUENCE_LENGTH: '4096', MAX_TOTAL_TOKENS: '4096', MAX_INPUT_TOKENS: '2048', HF_AUTO_CAST_TYPE: 'bf16' },
        },
      });
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['s3:GetObject*']), Resource: Match.arrayWith([{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('Models'), 'Arn'] }, '/llama-3.1-8b-neuron/*']] }]) })]) },
      });
    });

    it('LMI on GPU (vLLM) over the four GPUs of a g5.12xlarge, TGI on a g6.xlarge, LMI on CPU', () => {
      synth({ instanceType: InferenceInstanceType.G5_12XLARGE, container: InferenceContainer.lmiGpu() }).t.hasResourceProperties('AWS::SageMaker::Model', {
        PrimaryContainer: { Image: dlc('djl-inference:0.35.0-lmi17.0.0-cu128'), Environment: { OPTION_ROLLING_BATCH: 'vllm', OPTION_TENSOR_PARALLEL_DEGREE: '4', OPTION_MAX_MODEL_LEN: '4096' } },
      });
      synth({ instanceType: InferenceInstanceType.G6_XLARGE, container: InferenceContainer.tgiGpu() }).t.hasResourceProperties('AWS::SageMaker::Model', {
        PrimaryContainer: { Image: dlc('huggingface-pytorch-tgi-inference:2.6.0-tgi3.2.3-gpu-py311-cu124-ubuntu22.04-v2.0'), Environment: { SM_NUM_GPUS: '1', MESSAGES_API_ENABLED: 'true' } },
      });
      synth({ instanceType: InferenceInstanceType.M5_XLARGE, container: InferenceContainer.lmiCpu() }).t.hasResourceProperties('AWS::SageMaker::Model', {
        PrimaryContainer: { Image: dlc('djl-inference:0.29.0-cpu-full'), Environment: Match.objectEquals({ HF_MODEL_ID: 'mistralai/Mistral-7B-Instruct-v0.3', OPTION_ROLLING_BATCH: 'disable', OPTION_MAX_ROLLING_BATCH_SIZE: '4', OPTION_MAX_MODEL_LEN: '4096' }) },
      });
    });

    it('takes a custom image (pull limited to its repository) and a pinned DLC tag; an env-agnostic stack maps the DLC account by region', () => {
      const { t } = synth({ instanceType: InferenceInstanceType.G5_XLARGE, container: InferenceContainer.fromImage('444455556666.dkr.ecr.us-east-1.amazonaws.com/my-llm:1.2', AcceleratorKind.GPU), environment: { MY_VAR: 'x' } });
      t.hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: { Image: '444455556666.dkr.ecr.us-east-1.amazonaws.com/my-llm:1.2', Environment: { MY_VAR: 'x' } } });
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:us-east-1:444455556666:repository/my-llm']] } })]) },
      });
      const agnostic = new Stack(new App(), 'Agnostic');
      new InferenceEndpoint(agnostic, 'Llm', { instanceType: InferenceInstanceType.G5_XLARGE, container: InferenceContainer.lmiGpu('0.33.0-lmi15.0.0-cu128'), model: HF });
      const at = Template.fromStack(agnostic);
      expect(JSON.stringify(at.toJSON().Mappings)).toContain('763104351884');
      at.hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: { Image: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/djl-inference:0.33.0-lmi15.0.0-cu128')])] } } });
    });
  });

  describe('scaling', () => {
    it('instances: target tracking on high-resolution concurrent requests per model, cooldowns, a business-hours schedule in a time zone', () => {
      const { t, endpoint } = synth({
        instanceType: InferenceInstanceType.G5_2XLARGE,
        container: InferenceContainer.lmiGpu(),
        scaling: {
          minCapacity: 1,
          maxCapacity: 4,
          schedules: [
            { name: 'BusinessHours', schedule: appscaling.Schedule.cron({ hour: '8', minute: '0', weekDay: 'MON-FRI' }), timeZone: TimeZone.EUROPE_BERLIN, minCapacity: 2 },
            { name: 'Night', schedule: appscaling.Schedule.cron({ hour: '19', minute: '0' }), timeZone: TimeZone.EUROPE_BERLIN, minCapacity: 1 },
          ],
        },
      });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ServiceNamespace: 'sagemaker', ResourceId: 'endpoint/small-llm/variant/AllTraffic', ScalableDimension: 'sagemaker:variant:DesiredInstanceCount', MinCapacity: 1, MaxCapacity: 4,
        ScheduledActions: [
          { ScheduledActionName: 'BusinessHours', Schedule: 'cron(0 8 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 2 } },
          { ScheduledActionName: 'Night', Schedule: 'cron(0 19 * * ? *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 1 } },
        ],
      });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantConcurrentRequestsPerModelHighResolution' },
          TargetValue: 4, ScaleInCooldown: 600, ScaleOutCooldown: 60,
        },
      });
      expect(endpoint.minimumMonthlyCostUsd).toBe(1105.95); // 730 h x $1.515
    });

    it('warns when a schedule raises the minimum and none lowers it again, and not when it is paired', () => {
      const warm = { name: 'Warm', schedule: appscaling.Schedule.cron({ hour: '8', minute: '0', weekDay: 'MON-FRI' }), minCapacity: 2 };
      const base = { instanceType: InferenceInstanceType.G5_2XLARGE, container: InferenceContainer.lmiGpu() };
      const raiseOnly = synth({ ...base, scaling: { minCapacity: 1, maxCapacity: 4, schedules: [warm] } });
      Annotations.fromStack(raiseOnly.s).hasWarning('*', Match.stringLikeRegexp("scaling.schedules 'Warm' raise the minimum above 1 and no schedule lowers it again"));
      const paired = synth({ ...base, scaling: { minCapacity: 1, maxCapacity: 4, schedules: [warm, { name: 'Night', schedule: appscaling.Schedule.cron({ hour: '19', minute: '0' }), minCapacity: 1 }] } });
      expect(Annotations.fromStack(paired.s).findWarning('*', Match.stringLikeRegexp('no schedule lowers it again'))).toHaveLength(0);
    });

    it('instances on invocations per instance with a custom target', () => {
      synth({ instanceType: InferenceInstanceType.G5_XLARGE, container: InferenceContainer.tgiGpu(), scaling: { minCapacity: 1, maxCapacity: 2, metric: ScalingMetric.INVOCATIONS, targetValue: 50, scaleInCooldown: Duration.minutes(30) } })
        .t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
          TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' }, TargetValue: 50, ScaleInCooldown: 1800 },
        });
    });

    it('scale to zero: an inference component, managed instance scaling to 0, copy-count target tracking and step scaling out of zero', () => {
      const { t, endpoint } = synth({
        instanceType: InferenceInstanceType.INF2_XLARGE,
        container: InferenceContainer.lmiNeuron(),
        inferenceComponents: true,
        scaling: { minCapacity: 0, maxCapacity: 2 },
      });
      t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
        ExecutionRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LlmRole'), 'Arn'] },
        ProductionVariants: [{
          VariantName: 'AllTraffic', InstanceType: 'ml.inf2.xlarge', InitialInstanceCount: 1, ModelName: Match.absent(),
          ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 2 }, RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
        }],
      });
      t.hasResourceProperties('AWS::SageMaker::InferenceComponent', {
        InferenceComponentName: 'small-llm-model',
        EndpointName: { 'Fn::GetAtt': [Match.stringLikeRegexp('Llm'), 'EndpointName'] },
        VariantName: 'AllTraffic',
        Specification: { ModelName: { 'Fn::GetAtt': [Match.stringLikeRegexp('LlmModel'), 'ModelName'] }, ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: 2, MinMemoryRequiredInMb: 1024 } },
        // One copy at every deploy (loadOnDeploy): CloudFormation waits for it to load, or rolls back a model that cannot.
        RuntimeConfig: { CopyCount: 1 },
      });
      // Both log groups expire: the endpoint's and the component's (SageMaker would make them with no retention).
      t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/sagemaker/InferenceComponents/small-llm-model', RetentionInDays: 30 });
      t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/sagemaker/Endpoints/small-llm', RetentionInDays: 30 });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ResourceId: 'inference-component/small-llm-model', ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount', MinCapacity: 0, MaxCapacity: 2,
      });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution' }, TargetValue: 4 },
      });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'StepScaling',
        // Wake to one copy: the cooldown spans a model load (the 20-minute startup timeout), so the alarm's re-runs every
        // minute while the copy loads count the copy already added instead of adding one each.
        StepScalingPolicyConfiguration: {
          AdjustmentType: 'ChangeInCapacity', Cooldown: 1200, MetricAggregationType: 'Maximum', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
        },
      });
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SageMaker', MetricName: 'NoCapacityInvocationFailures', Dimensions: [{ Name: 'InferenceComponentName', Value: 'small-llm-model' }],
        Statistic: 'Maximum', Period: 60, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('ScaleOutFromZero') }],
      });
      expect(endpoint.minimumMonthlyCostUsd).toBe(0);
      // loadOnDeploy false: CopyCount 0, a deploy starts nothing; a shorter startup timeout shortens the wake cooldown.
      const idle = synth({
        instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), inferenceComponents: true, startupTimeout: Duration.minutes(8),
        scaling: { minCapacity: 0, maxCapacity: 2, loadOnDeploy: false },
      }).t;
      idle.hasResourceProperties('AWS::SageMaker::InferenceComponent', { RuntimeConfig: { CopyCount: 0 } });
      idle.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { PolicyType: 'StepScaling', StepScalingPolicyConfiguration: Match.objectLike({ Cooldown: 480 }) });
    });

    it('inference components with a floor: copy-count invocations tracking, no scale-from-zero alarm', () => {
      const { t } = synth({ instanceType: InferenceInstanceType.G5_XLARGE, container: InferenceContainer.lmiGpu(), inferenceComponents: true, scaling: { minCapacity: 1, maxCapacity: 3, metric: ScalingMetric.INVOCATIONS } });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentInvocationsPerCopy' }, TargetValue: 30 },
      });
      t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    });
  });

  describe('options', () => {
    it('runs in a VPC, encrypts the volume with a key and captures payloads', () => {
      const s = stack();
      const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 2 });
      const key = new kms.Key(s, 'Key');
      const bucket = new s3.Bucket(s, 'Capture');
      const { t } = synth({
        instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), model: ModelSource.s3(new s3.Bucket(s, 'M'), 'm/'),
        vpc, encryptionKey: key, dataCapture: { bucket, samplingPercent: 5 },
      }, s);
      t.hasResourceProperties('AWS::SageMaker::Model', { VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('LlmSecurityGroup'), 'GroupId'] }], Subnets: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet') }]) } });
      // A classic endpoint takes them from the Model only.
      t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { VpcConfig: Match.absent(), EnableNetworkIsolation: Match.absent() });
      // With inference components the endpoint config carries the VPC and the isolation (CreateEndpointConfig).
      const s2 = stack();
      const vpc2 = new ec2.Vpc(s2, 'Vpc', { maxAzs: 2 });
      synth({ instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), model: ModelSource.s3(new s3.Bucket(s2, 'M'), 'm/'), vpc: vpc2, inferenceComponents: true }, s2)
        .t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
          EnableNetworkIsolation: true,
          VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('LlmSecurityGroup'), 'GroupId'] }], Subnets: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet') }]) },
        });
      t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] },
        DataCaptureConfig: {
          EnableCapture: true, InitialSamplingPercentage: 5, CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
          DestinationS3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('Capture') }, '/data-capture/']] },
        },
      });
    });

    it('grants invoke on the endpoint and its component, and exposes its metrics', () => {
      const s = stack();
      const endpoint = new InferenceEndpoint(s, 'Llm', { model: HF, endpointName: 'small-llm', instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), inferenceComponents: true, scaling: { minCapacity: 0, maxCapacity: 1 } });
      const role = new iam.Role(s, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
      endpoint.grantInvoke(role);
      Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp('Caller') }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], Resource: [
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:111122223333:endpoint/small-llm']] },
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:111122223333:inference-component/small-llm-model']] },
        ] }] },
      });
      expect(s.resolve(endpoint.metricInvocations().toMetricConfig().metricStat!.dimensions)).toEqual([{ name: 'InferenceComponentName', value: 'small-llm-model' }]);
      expect(endpoint.metricModelLatency({ statistic: 'p99' }).statistic).toBe('p99');
      expect(endpoint.metricErrors().metricName).toBe('Invocation5XXErrors');
      expect(endpoint.metricInstanceCount()).toMatchObject({ namespace: '/aws/sagemaker/Endpoints', metricName: 'CPUUtilization', statistic: 'SampleCount' });
      expect(endpoint.metricNoCapacityInvocationFailures().metricName).toBe('NoCapacityInvocationFailures');
    });
  });

  describe('validation', () => {
    const base = { instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron() };
    it.each<[string, Partial<InferenceEndpointProps>, string]>([
      ['scale to zero without inference components', { scaling: { minCapacity: 0, maxCapacity: 2 } }, 'scaling.minCapacity: 0 (scale to zero) needs inferenceComponents: true; a SageMaker endpoint can only scale to zero instances when it hosts inference components'],
      ['a scheduled zero without inference components', { scaling: { minCapacity: 1, maxCapacity: 2, schedules: [{ name: 'n', schedule: appscaling.Schedule.cron({ hour: '20' }), minCapacity: 0 }] } }, 'scaling.schedules[0].minCapacity: 0 needs inferenceComponents: true'],
      ['a schedule that changes nothing', { scaling: { minCapacity: 1, maxCapacity: 2, schedules: [{ name: 'n', schedule: appscaling.Schedule.cron({ hour: '20' }) }] } }, 'scaling.schedules[0]: sets neither minCapacity nor maxCapacity'],
      ['min above max', { scaling: { minCapacity: 3, maxCapacity: 2 } }, 'scaling: minCapacity 3 is above maxCapacity 2'],
      ['a GPU container on Inferentia', { container: InferenceContainer.lmiGpu() }, 'container: a gpu container on ml.inf2.xlarge (neuron); use InferenceContainer.lmiNeuron() or tgiNeuron()'],
      ['a Neuron container on a GPU', { instanceType: InferenceInstanceType.G5_XLARGE }, 'container: a neuron container on ml.g5.xlarge (gpu)'],
      ['tensor parallel over more cores than the instance has', { tensorParallelDegree: 4 }, 'tensorParallelDegree: 4 does not divide the 2 Neuron cores of ml.inf2.xlarge'],
      ['tensor parallel on CPU', { instanceType: InferenceInstanceType.M5_XLARGE, container: InferenceContainer.lmiCpu(), tensorParallelDegree: 1 }, 'tensorParallelDegree: ml.m5.xlarge has no accelerator to shard across'],
      ['a KMS key on a type with instance storage', { instanceType: InferenceInstanceType.G5_XLARGE, container: InferenceContainer.lmiGpu(), encryptionKey: {} as kms.IKey }, 'encryptionKey: ml.g5.xlarge has instance storage'],
      ['network isolation with a Hub model id', { networkIsolation: true }, 'networkIsolation: a Hugging Face model id is downloaded at start and needs the network'],
      ['a bad endpoint name', { endpointName: 'my_endpoint' }, "endpointName: letters, digits and '-', 63 at most, got 'my_endpoint'"],
      ['instanceCount with scaling', { instanceCount: 2, scaling: { minCapacity: 1, maxCapacity: 2 } }, 'instanceCount: set the capacity with scaling.minCapacity / maxCapacity instead'],
      ['a bad batch size and sequence length', { maxBatchSize: 0, maxSequenceLength: 10 }, 'maxBatchSize: expected an integer 1-256, got 0'],
    ])('refuses %s', (_name, props, message) => {
      expect(() => new InferenceEndpoint(stack(), 'E', { model: HF, ...base, ...props })).toThrow(message);
    });

    it('names every problem at once', () => {
      expect(() => new InferenceEndpoint(stack(), 'E', { model: HF, ...base, maxBatchSize: 0, maxSequenceLength: 10, scaling: { minCapacity: 0, maxCapacity: 0 } }))
        .toThrow(/maxBatchSize[\s\S]*maxSequenceLength[\s\S]*scaling.maxCapacity[\s\S]*scaling.minCapacity: 0/);
    });

    it('knows instance types by name', () => {
      expect(InferenceInstanceType.of('ml.inf2.48xlarge')).toBe(InferenceInstanceType.INF2_48XLARGE);
      expect(InferenceInstanceType.of('ml.g6e.xlarge')).toMatchObject({ accelerator: 'gpu', acceleratorDevices: 1, hasInstanceStorage: true });
      expect(InferenceInstanceType.of('ml.c6i.2xlarge')).toMatchObject({ accelerator: 'cpu', acceleratorDevices: 0, hasInstanceStorage: false });
      expect(InferenceInstanceType.INF2_XLARGE.hasInstanceStorage).toBe(false);
      expect(() => InferenceInstanceType.of('inf2.xlarge')).toThrow('not a SageMaker instance type');
    });
  });

  describe('as a gateway tier', () => {
    it('renders a config model the router validates at synth, and the router may invoke exactly that endpoint and component', () => {
      const s = stack();
      const endpoint = new InferenceEndpoint(s, 'Llm', {
        instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), model: HF, endpointName: 'mistral-inf2',
        inferenceComponents: true, scaling: { minCapacity: 0, maxCapacity: 1 },
      });
      expect(endpoint.gatewayModel('mistral-7b')).toEqual({ id: 'mistral-7b', provider: 'sagemaker', upstreamModel: 'mistral-inf2', instanceType: 'ml.inf2.xlarge', inferenceComponent: 'mistral-inf2-model' });
      new LlmGateway(s, 'Gateway', {
        config: GatewayConfig.fromObject({
          providers: [{ type: 'sagemaker', id: 'sagemaker' }, { type: 'bedrock', id: 'bedrock' }],
          models: [endpoint.gatewayModel('mistral-7b') as never, { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
          tiers: [{ name: 'small', models: ['mistral-7b', 'nova-lite'] }],
          routing: { thresholds: [{ tier: 'small', upTo: 1 }], baselineModel: 'nova-lite' },
          tenants: [],
        }),
      });
      Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], Resource: [
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:111122223333:endpoint/mistral-inf2']] },
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:111122223333:inference-component/mistral-inf2-model']] },
        ] }]) },
      });
    });
  });
});
