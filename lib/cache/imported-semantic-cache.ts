// Internal: what SemanticCache.fromSemanticCacheAttributes returns (as an ISemanticCache); lib/index.ts does not export it.
import { Annotations, Arn, ArnFormat, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CacheEmbedder } from './cache-embedder';
import { DEFAULT_INDEX_NAME, indexNameProblem } from './index-name';
import { type SemanticCacheAttributes, SemanticCacheBase } from './semantic-cache-base';

/** A semantic cache deployed elsewhere: grants on this side only, its access policy left to its own stack. */
export class ImportedSemanticCache extends SemanticCacheBase {
  readonly engineKind: string;
  readonly endpoint: string;
  readonly service?: string;
  readonly indexName: string;
  readonly embedder: CacheEmbedder;
  readonly exactCacheTable: dynamodb.ITable;
  readonly connections?: ec2.Connections;
  protected readonly resourceArn: string;
  protected readonly domainName?: string;
  protected readonly valkeyAuthToken?: secretsmanager.ISecret;
  private readonly warned = new Set<string>();

  constructor(scope: Construct, id: string, attrs: SemanticCacheAttributes) {
    super(scope, id);
    const engines = [attrs.domainArn && 'domainArn', attrs.collectionArn && 'collectionArn', attrs.valkeyAuthToken && 'valkeyAuthToken'].filter(Boolean);
    const problems: string[] = [];
    if (engines.length !== 1) problems.push(`give exactly one of domainArn, collectionArn or valkeyAuthToken (with valkeySecurityGroup), got ${engines.length ? engines.join(', ') : 'none'}`);
    if (attrs.valkeyAuthToken && !attrs.valkeySecurityGroup) problems.push('valkeySecurityGroup: required with valkeyAuthToken (the router is admitted on the cache port)');
    if (attrs.valkeySecurityGroup && !attrs.valkeyAuthToken) problems.push('valkeySecurityGroup: only for a Valkey cache (with valkeyAuthToken)');
    const endpoint = attrs.endpoint;
    if (typeof endpoint !== 'string' || (!Token.isUnresolved(endpoint) && !(attrs.valkeyAuthToken ? /^rediss:\/\/[^/\s]+:\d+$/ : /^https:\/\/[^/\s]+$/).test(endpoint))) {
      problems.push(`endpoint: expected ${attrs.valkeyAuthToken ? 'rediss://<primary endpoint>:<port>' : 'https://<domain or collection endpoint>'}, got '${endpoint}'`);
    }
    if (typeof attrs.exactCacheTableName !== 'string' || (!Token.isUnresolved(attrs.exactCacheTableName) && !/^[a-zA-Z0-9_.-]{3,255}$/.test(attrs.exactCacheTableName))) {
      problems.push(`exactCacheTableName: expected a DynamoDB table name, got '${attrs.exactCacheTableName}'`);
    }
    const indexName = attrs.indexName ?? DEFAULT_INDEX_NAME;
    const badIndex = indexNameProblem(indexName);
    if (badIndex) problems.push(badIndex);
    for (const [name, arn, service] of [['domainArn', attrs.domainArn, 'es'], ['collectionArn', attrs.collectionArn, 'aoss']] as const) {
      if (arn !== undefined && !Token.isUnresolved(arn) && !new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:(domain|collection)/[a-z0-9-]+$`).test(arn)) {
        problems.push(`${name}: expected an ${service === 'es' ? 'OpenSearch Service domain' : 'OpenSearch Serverless collection'} ARN, got '${arn}'`);
      }
    }
    if (problems.length) throw new Error(`SemanticCache.fromSemanticCacheAttributes:\n  - ${problems.join('\n  - ')}`);

    this.endpoint = endpoint;
    this.indexName = indexName;
    this.embedder = attrs.embedder ?? CacheEmbedder.sentenceEncoder();
    this.exactCacheTable = dynamodb.Table.fromTableName(this, 'ExactCache', attrs.exactCacheTableName);
    if (attrs.valkeyAuthToken) {
      this.engineKind = 'valkey';
      this.valkeyAuthToken = attrs.valkeyAuthToken;
      this.resourceArn = attrs.valkeyAuthToken.secretArn;
      this.connections = new ec2.Connections({ securityGroups: [attrs.valkeySecurityGroup!], defaultPort: ec2.Port.tcp(6379) });
    } else if (attrs.collectionArn) {
      this.engineKind = 'serverless';
      this.service = 'aoss';
      this.resourceArn = attrs.collectionArn;
    } else {
      this.engineKind = 'managed-domain';
      this.service = 'es';
      this.resourceArn = attrs.domainArn!;
      this.domainName = Arn.split(attrs.domainArn!, ArnFormat.SLASH_RESOURCE_NAME).resourceName;
    }
  }

  /** The cache's access policy lives in its own stack: say whom it must admit. */
  protected admit(principal: iam.IPrincipal): void {
    if (this.engineKind === 'valkey') return; // the AUTH token and the security-group rule are the whole gate
    const arn = (principal as Partial<iam.IRole>).roleArn;
    const who = Construct.isConstruct(principal) ? principal.node.path : (arn ?? 'the grantee');
    if (this.warned.has(who)) return;
    this.warned.add(who);
    const policy = this.engineKind === 'serverless' ? 'data-access policy' : 'access policy';
    Annotations.of(this).addWarningV2(
      'cdk-llm-finops:importedCacheAdmission',
      `Imported SemanticCache: its ${policy} is its own stack's; admit ${who} there (in that stack: cache.grantReadWrite(iam.Role.fromRoleArn(this, 'Router', '<this role ARN>'))), or its requests get 403 and the router serves uncached.`,
    );
  }

  /** A literal domain ARN is named as cdk-nag prints it; a token one cannot be acknowledged ahead. */
  protected acknowledgeIndexPaths(grantee: iam.IGrantable): void {
    if (!Construct.isConstruct(grantee) || Token.isUnresolved(this.resourceArn)) return;
    Validations.of(grantee).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${this.resourceArn}/*]`,
      reason: 'HTTP paths under the imported cache domain (the k-NN index, its _search, _doc and _mapping endpoints): ES HTTP permissions name paths.',
    });
  }
}
