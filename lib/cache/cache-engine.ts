import { Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { SemanticCachePreset } from './semantic-cache-preset';

const PRESETS: readonly string[] = Object.values(SemanticCachePreset);

/** An OpenSearch Service domain. */
export interface ManagedDomainEngineOptions {
  /**
   * Size of the domain.
   * @default SemanticCachePreset.DEVELOPMENT
   */
  readonly preset?: SemanticCachePreset;
  /**
   * Data-node instance type, overriding the preset's.
   * @default - the preset's: t3.medium.search (development), r7g.large.search (production)
   */
  readonly instanceType?: string;
  /**
   * Turn on OpenSearch fine-grained access control with this IAM principal (role or user ARN) as its master user.
   * FGAC maps only the master user to a role by itself: every other principal, bound routers included, is refused
   * (403) until you map it in the security plugin (`PUT _plugins/_security/api/rolesmapping/...`,
   * https://docs.aws.amazon.com/opensearch-service/latest/developerguide/fgac.html#fgac-mapping), so synthesis warns
   * about each bound role that is not the master. Without it the domain's IAM access policy alone admits exactly the
   * bound roles (every request SigV4-signed), which is what the router needs.
   * @default - no fine-grained access control; IAM access policy only
   */
  readonly fineGrainedAccessMasterUserArn?: string;
  /**
   * Retention of the domain's slow logs and error logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** An OpenSearch Serverless vector collection. */
export interface ServerlessEngineOptions {
  /**
   * Standby replicas in a second AZ (doubles the minimum OCUs).
   * @default false
   */
  readonly standbyReplicas?: boolean;
  /**
   * OpenSearch Serverless VPC endpoints (`vpce-...`, AWS::OpenSearchServerless::VpcEndpoint) the collection is
   * reached through instead of the public internet. The router function must then run in that VPC.
   * @default - public network access (every request still SigV4-signed and admitted by the data-access policy)
   */
  readonly vpcEndpointIds?: string[];
}

/** An ElastiCache for Valkey replication group with vector search. */
export interface ValkeyEngineOptions {
  /**
   * The VPC the cache nodes and the router function run in. The router still calls Bedrock, DynamoDB, Secrets Manager
   * and external providers, so the subnets need a NAT gateway or interface and gateway endpoints for those services.
   */
  readonly vpc: ec2.IVpc;
  /**
   * The subnets of the cache's subnet group and of the router.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Size of the replication group.
   * @default SemanticCachePreset.DEVELOPMENT
   */
  readonly preset?: SemanticCachePreset;
  /**
   * The node type, overriding the preset's. Vector search runs on every node type except data tiering (r6gd);
   * t2/t3/t4g micro and small nodes need a larger memory reserve.
   * @default - the preset's: cache.t4g.medium (development), cache.r7g.large (production)
   */
  readonly nodeType?: string;
}

/**
 * Where the semantic cache's vectors live, with the settings that engine has (and no other's): an OpenSearch Service
 * domain (pay per instance-hour; the development preset is the cheapest secure single node), an OpenSearch
 * Serverless vector collection (pay per OCU-hour, at least ~$175 a month without standby replicas, ~$350 with), or
 * ElastiCache for Valkey 8.2 in a VPC (pay per node-hour; the router then runs in the VPC). Each is checked when made.
 */
export class CacheEngine {
  /** An OpenSearch Service domain (OpenSearch 2.19, k-NN). */
  static managedDomain(options: ManagedDomainEngineOptions = {}): CacheEngine {
    const problems = [...presetProblems(options.preset)];
    if (options.instanceType !== undefined && !/^[a-z0-9]+\.[a-z0-9]+\.search$/.test(options.instanceType)) {
      problems.push(`instanceType: expected an OpenSearch instance type such as t3.medium.search, got '${options.instanceType}'`);
    }
    const master = options.fineGrainedAccessMasterUserArn;
    if (master !== undefined && !Token.isUnresolved(master) && !/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+/.test(master)) {
      problems.push(`fineGrainedAccessMasterUserArn: expected an IAM role or user ARN, got '${master}'`);
    }
    refuse('managedDomain', problems);
    return new CacheEngine('managed-domain', { managedDomain: options });
  }

  /** An OpenSearch Serverless VECTORSEARCH collection. */
  static serverless(options: ServerlessEngineOptions = {}): CacheEngine {
    const problems: string[] = [];
    for (const v of options.vpcEndpointIds ?? []) {
      if (!Token.isUnresolved(v) && !/^vpce-[0-9a-z]{1,32}$/.test(v)) problems.push(`vpcEndpointIds: expected OpenSearch Serverless VPC endpoint ids (vpce-...), got '${v}'`);
    }
    refuse('serverless', problems);
    return new CacheEngine('serverless', { serverless: options });
  }

  /** ElastiCache for Valkey 8.2 (the first version with vector search), in `vpc`. */
  static valkey(options: ValkeyEngineOptions): CacheEngine {
    const problems = [...presetProblems(options?.preset)];
    if (!options?.vpc) problems.push('vpc: required (ElastiCache runs in a VPC, and the router with it)');
    const nodeType = options?.nodeType;
    if (nodeType !== undefined) {
      if (!/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(nodeType)) problems.push(`nodeType: expected an ElastiCache node type such as cache.r7g.large, got '${nodeType}'`);
      else if (/^cache\.r6gd\./.test(nodeType)) problems.push(`nodeType: ${nodeType} uses data tiering, which has no vector search`);
      // ElastiCache "Supported node types" (read 2026-12-06): new clusters can no longer be created on T2 nodes.
      else if (/^cache\.t2\./.test(nodeType)) problems.push(`nodeType: ${nodeType}: ElastiCache no longer creates clusters on T2 nodes; use cache.t4g.medium or larger`);
      else if (/^cache\.t[234]g?\.(micro|small)$/.test(nodeType)) problems.push(`nodeType: ${nodeType} needs its memory reserve raised for search (30-50%); use cache.t4g.medium or larger`);
    }
    refuse('valkey', problems);
    return new CacheEngine('valkey', { valkey: options });
  }

  /** `managed-domain`, `serverless` or `valkey`. */
  readonly kind: string;
  /** The VPC the router must run in (Valkey), else none. */
  readonly vpc?: ec2.IVpc;
  /** The router's subnets in that VPC. */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /** @internal */
  readonly _managedDomain?: ManagedDomainEngineOptions;
  /** @internal */
  readonly _serverless?: ServerlessEngineOptions;
  /** @internal */
  readonly _valkey?: ValkeyEngineOptions;

  private constructor(kind: string, options: { managedDomain?: ManagedDomainEngineOptions; serverless?: ServerlessEngineOptions; valkey?: ValkeyEngineOptions }) {
    this.kind = kind;
    this._managedDomain = options.managedDomain;
    this._serverless = options.serverless;
    this._valkey = options.valkey;
    this.vpc = options.valkey?.vpc;
    this.vpcSubnets = options.valkey?.vpcSubnets;
  }
}

function presetProblems(preset: string | undefined): string[] {
  return preset !== undefined && !PRESETS.includes(preset) ? [`preset: expected development or production, got ${preset}`] : [];
}

function refuse(factory: string, problems: string[]): void {
  if (problems.length) throw new Error(`Invalid CacheEngine.${factory} options:\n  - ${problems.join('\n  - ')}`);
}
