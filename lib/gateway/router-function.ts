import { Annotations, Aspects, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLES, type GatewayConfigDocument } from '../../lambda/contract';
import { checkEnvironmentSize, configDelivery } from './config-delivery';
import { GatewayConfig } from './gateway-config';
import { gatewayConfigWarnings, validateGatewayConfig } from '../bundles';
import { SentenceEncoderLayer } from '../cache/sentence-encoder-layer';
import { acknowledgeBasicExecutionRole } from '../nag';
import {
  type ArnContext, artefactObjectArns, bedrockModelArns, crossRegionModelIds, marketplaceBedrockModels, premiumOnlyModelIds, providerSecretArns, routerNetworkNeeds,
  type RouterNetworkNeeds, sageMakerArns,
} from './config-resources';

/**
 * How a router in a VPC reaches the AWS services and providers it calls (Bedrock, DynamoDB, Firehose, SNS, Secrets
 * Manager, SageMaker Runtime, S3, external APIs). A Lambda function in a VPC has no internet access of its own, not
 * even in a public subnet.
 */
export enum RouterEgress {
  /** The subnets route to the internet through a NAT gateway (PRIVATE_WITH_EGRESS subnets): nothing is created. */
  NAT = 'nat',
  /**
   * Create the interface endpoints (with private DNS) and gateway endpoints the router needs, in its subnets. Works in
   * isolated subnets when every provider is on AWS in the stack's Region. Each interface endpoint costs about $0.01 an
   * hour per zone plus $0.01 per GB (us-east-1): ~$7.30 a month per service and zone. Private DNS fails if the VPC
   * already has an endpoint with private DNS for that service: use EXISTING_ENDPOINTS there.
   */
  CREATE_ENDPOINTS = 'create-endpoints',
  /**
   * The VPC already has the endpoints (with private DNS) the router needs: nothing is created; the router function's
   * metadata lists them and `llm-finops doctor` checks that each exists.
   */
  EXISTING_ENDPOINTS = 'existing-endpoints',
}

export interface RouterFunctionProps {
  /** The gateway config (`GatewayConfig.fromFile` or `.fromObject`) the router reads at cold start. */
  readonly config: GatewayConfig;

  /**
   * Memory of the router function in MiB.
   * @default 1024
   */
  readonly memorySize?: number;

  /**
   * Function timeout; it bounds a whole streamed completion, so leave room for long answers.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;

  /**
   * Retention of the function's log group, which also holds the usage records.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Run the router in this VPC (needed for a Valkey semantic cache). Its subnets must reach Bedrock, DynamoDB,
   * Secrets Manager and any external provider: a NAT gateway, or interface and gateway endpoints.
   * @default - no VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The router's subnets in `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * With `vpc`: how the router reaches AWS services and providers. Isolated subnets without CREATE_ENDPOINTS or
   * EXISTING_ENDPOINTS are refused at synth: every call would hang until its timeout.
   * @default RouterEgress.NAT
   */
  readonly egress?: RouterEgress;

  /**
   * Let the router start the AWS Marketplace subscription of a third-party Bedrock model (Anthropic, Meta, Mistral,
   * ...) on its first call (`aws-marketplace:Subscribe`, `Unsubscribe`, `ViewSubscriptions`, which Bedrock's automatic
   * model access needs on the calling role; without them every call to such a model in a fresh account returns
   * AccessDeniedException). Set false where an administrator subscribes to the models ahead of time.
   * @default true when the config names a third-party Bedrock model
   */
  readonly bedrockMarketplaceSubscribe?: boolean;
}

/**
 * The router Lambda from the pre-built bundle (arm64, Node.js 22), allowed to invoke exactly the Bedrock models its
 * config names. The full gateway (API, authorizer, quotas) composes this function.
 */
export class RouterFunction extends Construct {
  readonly function: lambda.Function;
  /** The function's log group: it also holds the usage records (`_type: llm_usage`) for Logs Insights. */
  readonly logGroup: logs.LogGroup;
  private readonly config: GatewayConfigDocument;

  constructor(scope: Construct, id: string, props: RouterFunctionProps) {
    super(scope, id);
    const config = GatewayConfig._documentOf(props.config, 'RouterFunction config');
    this.config = config;
    const memorySize = props.memorySize ?? 1024;
    this.validate(config, memorySize);
    const { fn, logGroup } = this.buildFunction(props, config, memorySize);
    this.function = fn;
    this.logGroup = logGroup;
    this.grantConfiguredUpstreams(props, config);
    acknowledgeBasicExecutionRole(this.function);
    if (props.vpc) this.placeInVpc(props.vpc, props.vpcSubnets, props.egress ?? RouterEgress.NAT);
  }

  /** The props and the config, with the router's own validation: a config it would refuse at cold start fails here. */
  private validate(config: GatewayConfigDocument, memorySize: number): void {
    const problems: string[] = [];
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) problems.push(`memorySize: expected an integer 128-10240, got ${memorySize}`);
    if (!Array.isArray(config.providers) || !Array.isArray(config.models)) problems.push('config: expected a GatewayConfig with providers[] and models[]');
    else if (JSON.stringify(config).includes('${Token[')) {
      Annotations.of(this).addWarningV2('cdk-llm-finops:configTokens', 'The gateway config holds deploy-time values (tokens): it is validated at cold start, not at synth.');
    } else {
      // The router's own validation, so a config it would refuse at cold start fails here, field by field.
      for (const p of validateGatewayConfig(config)) problems.push(`config.${p}`);
      // Retirement dates are relative to the day of synth: a warning, never a failure (a pinned model may be intended).
      if (!problems.length) {
        for (const w of gatewayConfigWarnings(config, Date.now())) Annotations.of(this).addWarningV2('cdk-llm-finops:modelLifecycle', w);
      }
    }
    problems.push(...profileGeography(this, config));
    if (problems.length) throw new Error(`Invalid RouterFunction props:\n  - ${problems.join('\n  - ')}`);

  }

  /** The function (arm64, Node.js 24) with its log group and config, and the encoder's layer when the config names it. */
  private buildFunction(props: RouterFunctionProps, config: GatewayConfigDocument, memorySize: number): { fn: lambda.Function; logGroup: logs.LogGroup } {
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    const delivery = configDelivery(BUNDLES.router, config);
    const fn = new lambda.Function(this, 'Resource', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: delivery.code,
      memorySize,
      timeout: props.timeout ?? Duration.minutes(5),
      logGroup,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      // No NODE_OPTIONS=--enable-source-maps: the bundles ship without maps, and the flag slows every cold start.
      environment: { ...delivery.environment },
      description: 'cdk-llm-finops router: OpenAI-compatible gateway with routing, caching, quotas and usage records',
    });
    checkEnvironmentSize(fn, 'RouterFunction');
    // A config that embeds with the sentence encoder itself (its own index, no SemanticCache) needs its weights too.
    const semantic = config.cache?.semantic;
    if (semantic?.enabled && semantic.embedder?.type === 'sentence') SentenceEncoderLayer.attach(this, fn);

    return { fn, logGroup };
  }

  /** Exactly what the config calls: its Bedrock models and profiles, Marketplace subscription, endpoints, artefacts, secrets. */
  private grantConfiguredUpstreams(props: RouterFunctionProps, config: GatewayConfigDocument): void {
    const ctx = this.arnContext();
    const resources = bedrockModelArns(config, ctx);
    if (resources.length) {
      this.function.addToRolePolicy(new iam.PolicyStatement({
        actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
        resources,
      }));
      for (const model of crossRegionModelIds(config)) {
        Validations.of(this.function).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${model}]`,
          reason: 'Region wildcard only on the foundation-model ARN of a configured model: its cross-region inference profile may serve a request in any region of its geography, and each needs InvokeModel on the model there.',
        });
      }
    }
    if (props.bedrockMarketplaceSubscribe !== false && marketplaceBedrockModels(config).length) {
      // Bedrock user guide, "Access Amazon Bedrock foundation models" (read 2026-12-06): the first call to a third-party
      // model subscribes the account in the background, as the calling role.
      this.function.addToRolePolicy(new iam.PolicyStatement({
        actions: ['aws-marketplace:Subscribe', 'aws-marketplace:Unsubscribe', 'aws-marketplace:ViewSubscriptions'],
        resources: ['*'],
      }));
      Validations.of(this.function).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'AWS Marketplace subscription actions take no resource ARN; Bedrock needs them on the calling role to subscribe the account to a third-party model on its first call (set bedrockMarketplaceSubscribe: false to leave subscribing to an administrator).',
      });
    }
    const endpoints = sageMakerArns(config, ctx);
    if (endpoints.length) {
      this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], resources: endpoints }));
    }
    const artefacts = artefactObjectArns(config, ctx.partition);
    if (artefacts.length) this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: artefacts }));
    const secrets = providerSecretArns(config, ctx);
    if (secrets.length) this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets }));
  }

  /** In a VPC: the way out (planned at synth, once every binding has set its variables) and the VPC access role. */
  private placeInVpc(vpc: ec2.IVpc, selection: ec2.SubnetSelection | undefined, egress: RouterEgress): void {
    // The environment is complete only once every binding has run (quota table, usage stream, cache): decided at synth.
    Aspects.of(this).add({ visit: (node) => void (node === this && this.planEgress(vpc, selection, egress)) });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason: 'AWSLambdaVPCAccessExecutionRole only lets Lambda manage the function\'s network interfaces in the VPC.',
    });
  }

  /**
   * ARNs of the Bedrock models behind the config's premium tiers (quota.premiumTiers), for a deny policy such as
   * BudgetGuard's premiumDeny. A model that also serves a non-premium tier is left out: denying it would break that
   * tier too. Empty when there are no premium tiers or they hold no Bedrock model.
   */
  premiumModelResources(): string[] {
    const ids = premiumOnlyModelIds(this.config);
    return ids.size ? bedrockModelArns(this.config, this.arnContext(), ids) : [];
  }

  /** What the router calls over the network (its config and the variables its bindings set). */
  private networkNeeds(): RouterNetworkNeeds {
    const cfn = this.function.node.defaultChild as lambda.CfnFunction;
    const env = (Stack.of(this).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
    return routerNetworkNeeds(this.config, env, Stack.of(this).region);
  }

  private egressPlanned = false;

  /** Refuses a VPC the router cannot get out of, creates the endpoints asked for, and records the needs for doctor. */
  private planEgress(vpc: ec2.IVpc, selection: ec2.SubnetSelection | undefined, egress: RouterEgress): void {
    if (this.egressPlanned) return;
    this.egressPlanned = true;
    const needs = this.networkNeeds();
    const selected = vpc.selectSubnets(selection);
    const isolatedIds = new Set(vpc.isolatedSubnets.map((s) => s.subnetId));
    const isolated = selected.subnets.length > 0 && selected.subnets.every((s) => isolatedIds.has(s.subnetId));
    const services = [...needs.interfaceServices, ...needs.gatewayServices].join(', ');
    if (isolated && egress === RouterEgress.NAT) {
      throw new Error(`RouterFunction: its subnets are isolated (no NAT route), so its calls to ${services || 'AWS'} would hang until they time out. ` +
        'Set egress: RouterEgress.CREATE_ENDPOINTS (or EXISTING_ENDPOINTS where the VPC has them), or choose PRIVATE_WITH_EGRESS subnets.');
    }
    if (isolated && needs.outside.length) {
      throw new Error(`RouterFunction: its subnets are isolated, and no VPC endpoint reaches ${needs.outside.join(', ')}: choose PRIVATE_WITH_EGRESS subnets (a NAT gateway).`);
    }
    this.function.node.addMetadata('cdk-llm-finops:network', { egress, ...needs });
    if (egress !== RouterEgress.CREATE_ENDPOINTS) return;
    // An interface endpoint takes one subnet per zone.
    const subnets: ec2.SubnetSelection = { subnets: vpc.selectSubnets({ ...selection, onePerAz: true }).subnets };
    for (const name of needs.interfaceServices) {
      // Its security group admits the router only (not the whole VPC's range), on 443.
      const endpoint = new ec2.InterfaceVpcEndpoint(this, `Endpoint-${name}`, {
        vpc, subnets, privateDnsEnabled: true, open: false,
        service: new ec2.InterfaceVpcEndpointAwsService(name),
      });
      endpoint.connections.allowDefaultPortFrom(this.function, `cdk-llm-finops router to ${name}`);
    }
    for (const name of needs.gatewayServices) {
      new ec2.GatewayVpcEndpoint(this, `Endpoint-${name}`, {
        vpc, subnets: [subnets],
        service: name === 'dynamodb' ? ec2.GatewayVpcEndpointAwsService.DYNAMODB : ec2.GatewayVpcEndpointAwsService.S3,
      });
    }
  }

  private arnContext(): ArnContext {
    const stack = Stack.of(this);
    return { partition: stack.partition, region: stack.region, account: stack.account };
  }
}


/** The Region prefixes a geographic Bedrock inference profile can be called from (its source Regions). */
const PROFILE_GEOGRAPHY: Readonly<Record<string, RegExp>> = {
  us: /^us-(east|west)-\d$/,
  'us-gov': /^us-gov-/,
  eu: /^eu-/,
  apac: /^ap-/,
  jp: /^ap-northeast-[13]$/,
  au: /^ap-southeast-[24]$/,
  ca: /^ca-/,
};

/**
 * A geographic inference profile (`us.`, `eu.`, `apac.`, ...) is callable only from its own geography's Regions
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html): a `us.` model in an
 * eu-west-1 stack fails every call. Refused at synth when the stack's Region is known; for a Region-agnostic stack,
 * a warning names the models bound to one geography (`global.` profiles work from any commercial Region).
 */
function profileGeography(scope: Construct, config: GatewayConfigDocument): string[] {
  const region = Stack.of(scope).region;
  const bedrockProviders = new Set((config.providers ?? []).filter((p) => p.type === 'bedrock' && !('region' in p && p.region)).map((p) => p.id));
  const bound = (config.models ?? [])
    .filter((m) => bedrockProviders.has(m.provider))
    .map((m) => ({ id: m.id, upstream: m.upstreamModel, geo: /^([a-z-]+)\./.exec(m.upstreamModel)?.[1] }))
    .filter((m) => m.geo !== undefined && PROFILE_GEOGRAPHY[m.geo] !== undefined);
  if (!bound.length) return [];
  if (Token.isUnresolved(region)) {
    Annotations.of(scope).addWarningV2('cdk-llm-finops:profileGeography',
      `This stack's Region is decided at deploy, but models use geographic inference profiles callable only from their geography: ${bound.map((m) => `${m.id} (${m.upstream})`).join(', ')}. ` +
      'Deploy in that geography, set the stack env, or use global. profiles.');
    return [];
  }
  return bound.filter((m) => !PROFILE_GEOGRAPHY[m.geo!].test(region)).map((m) =>
    `config.models: '${m.id}' calls ${m.upstream}, a ${m.geo}. inference profile, which cannot be called from ${region}; use the profile of this Region's geography or a global. profile`);
}
