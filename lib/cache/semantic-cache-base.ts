import { Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IConstruct } from 'constructs';
import { ENV_EXACT_CACHE_TABLE, ENV_SEMANTIC_INDEX } from '../../lambda/contract';
import type { ILayeredRouterBinding } from '../gateway/router-binding';
import type { CacheEmbedder } from './cache-embedder';

/** A function the cache serves: the router (it needs variables, not just permissions). */
export interface ICacheClient extends ILayeredRouterBinding {
  /** Engine valkey: the function must run in the cache's VPC (lambda.Function has both). */
  readonly isBoundToVpc?: boolean;
  readonly connections?: ec2.Connections;
}

/**
 * A semantic cache made in this stack (`SemanticCache`) or in another stack or app
 * (`SemanticCache.fromSemanticCacheAttributes`): what a router needs to use it.
 */
export interface ISemanticCache extends IConstruct {
  /** `managed-domain`, `serverless` or `valkey`. */
  readonly engineKind: string;
  /** https endpoint of the domain or collection, or `rediss://host:port` of the Valkey primary. */
  readonly endpoint: string;
  /** SigV4 service name: es (domain) or aoss (collection); undefined for valkey. */
  readonly service?: string;
  /** Name of the k-NN index. */
  readonly indexName: string;
  /** The router's embedder, which sizes the index's vectors. */
  readonly embedder: CacheEmbedder;
  /** The exact tier's DynamoDB table. */
  readonly exactCacheTable: dynamodb.ITable;
  /** Engine valkey: the cache's security group connections. */
  readonly connections?: ec2.Connections;

  /** Points a router's semantic and exact tiers here and grants it what they need. */
  bindRouter(fn: ICacheClient): void;
  /** Grants reading and writing the index (and, on a cache made here, admits the role in its access policy). */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant;
  /** Grants bedrock:InvokeModel on the Titan embedding model; nothing for the sentence encoder. */
  grantEmbedding(grantee: iam.IGrantable): iam.Grant | undefined;
  /** Grants the item reads and writes of the exact tier (GetItem, PutItem) on the table. */
  grantExactCache(grantee: iam.IGrantable): iam.Grant;
  /** Search latency of the domain (managed domain only; p99). */
  metricSearchLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** JVM memory pressure of the domain: above ~80% k-NN graphs start to be evicted (managed domain only). */
  metricJvmMemoryPressure(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * A semantic cache deployed by another stack or app. Give exactly one of `domainArn` (managed domain),
 * `collectionArn` (Serverless collection) or `valkeyAuthToken` with `valkeySecurityGroup` (Valkey).
 */
export interface SemanticCacheAttributes {
  /** https endpoint of the domain or collection, or `rediss://host:port` of the Valkey primary. */
  readonly endpoint: string;
  /** Name of the exact tier's DynamoDB table. */
  readonly exactCacheTableName: string;
  /**
   * ARN of the OpenSearch Service domain.
   * @default - not a managed domain
   */
  readonly domainArn?: string;
  /**
   * ARN of the OpenSearch Serverless collection.
   * @default - not a Serverless collection
   */
  readonly collectionArn?: string;
  /**
   * The secret holding the Valkey AUTH token.
   * @default - not a Valkey cache
   */
  readonly valkeyAuthToken?: secretsmanager.ISecret;
  /**
   * The Valkey cache's security group; binding a router adds an ingress rule to it (in the importing stack).
   * @default - not a Valkey cache
   */
  readonly valkeySecurityGroup?: ec2.ISecurityGroup;
  /**
   * Name of the k-NN index.
   * @default 'llm-finops-semantic-cache'
   */
  readonly indexName?: string;
  /**
   * The embedder the index was made for (its vector size must match).
   * @default CacheEmbedder.sentenceEncoder()
   */
  readonly embedder?: CacheEmbedder;
}

/** What the cache made here and an imported one share: the router binding, the grants and the metrics. */
export abstract class SemanticCacheBase extends Construct implements ISemanticCache {
  abstract readonly engineKind: string;
  abstract readonly endpoint: string;
  abstract readonly service?: string;
  abstract readonly indexName: string;
  abstract readonly embedder: CacheEmbedder;
  abstract readonly exactCacheTable: dynamodb.ITable;
  abstract readonly connections?: ec2.Connections;
  /** The domain or collection ARN, or the AUTH token secret's (valkey). */
  protected abstract readonly resourceArn: string;
  /** The domain's name, for its CloudWatch metrics (managed domain only). */
  protected abstract readonly domainName?: string;
  /** The Valkey AUTH token secret. */
  protected abstract readonly valkeyAuthToken?: secretsmanager.ISecret;

  /**
   * Connects a router function: sets the variables that switch its semantic tier onto this index (with the embedder
   * the index is sized for: the sentence encoder's layer, or InvokeModel on Titan) and its exact tier onto the table,
   * and grants it the index and the table.
   */
  bindRouter(fn: ICacheClient): void {
    if (this.engineKind === 'valkey') {
      if (!fn.isBoundToVpc || !fn.connections) {
        throw new Error('SemanticCache (engine valkey): the router must run in the cache\'s VPC; pass vpc to LlmGateway (CostManagedAiPlatform passes the cache\'s)');
      }
      this.connections!.allowDefaultPortFrom(fn.connections, 'router to the Valkey semantic cache');
      fn.addEnvironment(ENV_SEMANTIC_INDEX, Stack.of(this).toJsonString({
        type: 'valkey', url: this.endpoint, passwordSecret: this.valkeyAuthToken!.secretArn, indexName: this.indexName,
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
   * Grants reading and writing the index: es:ESHttpGet/Head/Post/Put on the domain, aoss:APIAccessAll on the
   * collection, or reading the AUTH token (valkey). A cache made here also admits the role in its access policy.
   */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    this.admit(grantee.grantPrincipal);
    if (this.valkeyAuthToken) return this.valkeyAuthToken.grantRead(grantee);
    if (this.service === 'aoss') return iam.Grant.addToPrincipal({ grantee, actions: ['aoss:APIAccessAll'], resourceArns: [this.resourceArn] });
    this.acknowledgeIndexPaths(grantee);
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
    return this.domainMetric('metricSearchLatency', 'SearchLatency', 'p99', props);
  }

  /** JVM memory pressure of the domain: above ~80% k-NN graphs start to be evicted (managed domain only). */
  metricJvmMemoryPressure(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.domainMetric('metricJvmMemoryPressure', 'JVMMemoryPressure', 'Maximum', props);
  }

  /** Lets the principal through the cache's own access policy, or says who must. */
  protected abstract admit(principal: iam.IPrincipal): void;

  /** Acknowledges the ES HTTP paths grant (`<domain ARN>/*`) for cdk-nag on the grantee. */
  protected abstract acknowledgeIndexPaths(grantee: iam.IGrantable): void;

  private domainMetric(method: string, metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (this.domainName === undefined) throw new Error(`${method}: only for engine managed-domain`);
    return new cloudwatch.Metric({
      namespace: 'AWS/ES', metricName, statistic,
      dimensionsMap: { DomainName: Token.asString(this.domainName), ClientId: Stack.of(this).account }, ...props,
    });
  }
}
