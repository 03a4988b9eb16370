import { Annotations, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLES, ENV_CONFIG_JSON, type GatewayConfigDocument } from '../../lambda/contract';
import { bundleDir, validateGatewayConfig } from '../bundles';
import { acknowledgeBasicExecutionRole } from '../nag';

export interface RouterFunctionProps {
  /**
   * The GatewayConfig document (see schema/gateway-config.schema.json) the router reads at cold start.
   */
  readonly config: GatewayConfigDocument;

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
}

const PROFILE_PREFIX = /^(us|eu|apac|us-gov|jp|au|ca|global)\.(.+)$/;

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
    this.config = props.config;
    const memorySize = props.memorySize ?? 1024;
    const problems: string[] = [];
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) problems.push(`memorySize: expected an integer 128-10240, got ${memorySize}`);
    if (!Array.isArray(props.config.providers) || !Array.isArray(props.config.models)) problems.push('config: expected a GatewayConfig with providers[] and models[]');
    else if (JSON.stringify(props.config).includes('${Token[')) {
      Annotations.of(this).addWarningV2('cdk-llm-finops:configTokens', 'The gateway config holds deploy-time values (tokens): it is validated at cold start, not at synth.');
    } else {
      // The router's own validation, so a config it would refuse at cold start fails here, field by field.
      for (const p of validateGatewayConfig(props.config)) problems.push(`config.${p}`);
    }
    if (problems.length) throw new Error(`Invalid RouterFunction props:\n  - ${problems.join('\n  - ')}`);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.logGroup = logGroup;
    this.function = new lambda.Function(this, 'Resource', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(bundleDir(BUNDLES.router)),
      memorySize,
      timeout: props.timeout ?? Duration.minutes(5),
      logGroup,
      environment: {
        [ENV_CONFIG_JSON]: JSON.stringify(props.config),
        NODE_OPTIONS: '--enable-source-maps',
      },
      description: 'cdk-llm-finops router: OpenAI-compatible gateway with routing, caching, quotas and usage records',
    });

    const resources = this.bedrockResources(props.config);
    if (resources.length) {
      this.function.addToRolePolicy(new iam.PolicyStatement({
        actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
        resources,
      }));
      for (const model of this.crossRegionModels(props.config)) {
        Validations.of(this.function).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${model}]`,
          reason: 'Region wildcard only on the foundation-model ARN of a configured model: its cross-region inference profile may serve a request in any region of its geography, and each needs InvokeModel on the model there.',
        });
      }
    }
    const endpoints = this.sageMakerResources(props.config);
    if (endpoints.length) {
      this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], resources: endpoints }));
    }
    const artefacts = this.s3Artefacts(props.config);
    if (artefacts.length) {
      const stack = Stack.of(this);
      this.function.addToRolePolicy(new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: artefacts.map((u) => `arn:${stack.partition}:s3:::${u.slice('s3://'.length)}`),
      }));
    }
    const secrets = this.secretArns(props.config);
    if (secrets.length) this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets }));
    acknowledgeBasicExecutionRole(this.function);
  }

  /**
   * Secrets holding provider API keys. A name becomes the ARN pattern Secrets Manager gives it (name plus a dash and
   * six random characters), so the grant covers that secret only.
   */
  private secretArns(config: { [key: string]: any }): string[] {
    const stack = Stack.of(this);
    const names = (config.providers as { apiKeySecret?: unknown }[]).map((p) => p.apiKeySecret).filter((s): s is string => typeof s === 'string');
    return [...new Set(names)].map((s) => (s.startsWith('arn:') ? s : `arn:${stack.partition}:secretsmanager:${stack.region}:${stack.account}:secret:${s}-??????`));
  }

  /** The SageMaker endpoints (and inference components) the config's sagemaker models name; ARNs lower-case the names. */
  private sageMakerResources(config: { [key: string]: any }): string[] {
    const providers = new Map((config.providers as { id: string; type: string; region?: string }[]).filter((p) => p.type === 'sagemaker').map((p) => [p.id, p]));
    const stack = Stack.of(this);
    const arns = new Set<string>();
    for (const m of config.models as { provider: string; upstreamModel: string; inferenceComponent?: string }[]) {
      const p = providers.get(m.provider);
      if (!p) continue;
      const region = p.region ?? stack.region;
      arns.add(`arn:${stack.partition}:sagemaker:${region}:${stack.account}:endpoint/${m.upstreamModel.toLowerCase()}`);
      if (m.inferenceComponent) arns.add(`arn:${stack.partition}:sagemaker:${region}:${stack.account}:inference-component/${m.inferenceComponent.toLowerCase()}`);
    }
    return [...arns].sort();
  }

  /** S3 objects the router reads at cold start: the trained router and the cache verifier. */
  private s3Artefacts(config: { [key: string]: any }): string[] {
    const uris = [config.routing?.learned?.s3Uri, config.cache?.semantic?.enabled ? config.cache.semantic.verifier?.s3Uri : undefined];
    return uris.filter((u): u is string => typeof u === 'string' && u.startsWith('s3://'));
  }

  /** Base model ids behind the cross-region inference profiles in the config. */
  private crossRegionModels(config: { [key: string]: any }): string[] {
    const bedrock = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
    return [...new Set((config.models as { provider: string; upstreamModel: string }[])
      .filter((m) => bedrock.has(m.provider))
      .map((m) => PROFILE_PREFIX.exec(m.upstreamModel)?.[2])
      .filter((id): id is string => !!id))];
  }

  /**
   * ARNs of the Bedrock models behind the config's premium tiers (quota.premiumTiers), for a deny policy such as
   * BudgetGuard's premiumDeny. A model that also serves a non-premium tier is left out: denying it would break that
   * tier too. Empty when there are no premium tiers or they hold no Bedrock model.
   */
  premiumModelResources(): string[] {
    const config = this.config as { [key: string]: any };
    const premium = new Set<string>(config.quota?.premiumTiers ?? []);
    const tiers = (config.tiers ?? []) as { name: string; models: string[] }[];
    const inPremium = new Set(tiers.filter((t) => premium.has(t.name)).flatMap((t) => t.models));
    const inOther = new Set(tiers.filter((t) => !premium.has(t.name)).flatMap((t) => t.models));
    const ids = new Set([...inPremium].filter((m) => !inOther.has(m)));
    return ids.size ? this.bedrockResources(config, ids) : [];
  }

  /** ARNs for the Bedrock models in the config: models, cross-region profiles and their underlying models. */
  private bedrockResources(config: { [key: string]: any }, only?: ReadonlySet<string>): string[] {
    const stack = Stack.of(this);
    const bedrockProviders = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
    const arns = new Set<string>();
    for (const m of config.models as { id: string; provider: string; upstreamModel: string }[]) {
      if (!bedrockProviders.has(m.provider) || (only && !only.has(m.id))) continue;
      const id = m.upstreamModel;
      if (id.startsWith('arn:')) {
        arns.add(id);
        continue;
      }
      const profile = PROFILE_PREFIX.exec(id);
      if (profile) {
        arns.add(`arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:inference-profile/${id}`);
        // A cross-region profile routes to the model in any region of its geography.
        arns.add(`arn:${stack.partition}:bedrock:*::foundation-model/${profile[2]}`);
      } else {
        arns.add(`arn:${stack.partition}:bedrock:${stack.region}::foundation-model/${id}`);
      }
    }
    return [...arns].sort();
  }
}

