import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { GATEWAY_METRICS } from '../../lambda/contract';
import { gatewayAlertMetric, gatewayMetric, type GatewayMetricOptions } from './gateway-metrics';

/**
 * A gateway made in this stack (`LlmGateway`) or in another stack or app (`LlmGateway.fromLlmGatewayAttributes`):
 * what a dashboard, an alarm or a client's role needs of it.
 */
export interface ILlmGateway extends IConstruct {
  /** The REST API's id. */
  readonly restApiId: string;
  /** The REST API's name: the `ApiName` dimension of its CloudWatch metrics. */
  readonly restApiName: string;
  /** The API stage clients call. */
  readonly stageName: string;
  /** Base URL for OpenAI and Anthropic SDKs, ending in /v1. */
  readonly baseUrl: string;
  /** The router's log group, which holds the usage records (`_type: llm_usage`) for Logs Insights. */
  readonly routerLogGroup: logs.ILogGroup;

  /** Grants execute-api:Invoke on every route and method of the stage. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant;
  /** Server-side errors (5XX) of the stage (Sum). */
  metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Client errors (4XX) of the stage: refused keys, quota 429s, bad input (Sum). */
  metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** End-to-end latency of the stage (Average). */
  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Any of the router's own metrics by name (GATEWAY_METRICS), gateway-wide or for one tier and model. */
  metric(metricName: string, options?: GatewayMetricOptions): cloudwatch.Metric;
  /** What the requests cost in USD (Sum), from the usage records, cache hits' embeddings included. */
  metricSpendUsd(options?: GatewayMetricOptions): cloudwatch.Metric;
  /** What the same requests would have cost on the baseline model, whole and uncached (Sum, USD). */
  metricBaselineSpendUsd(options?: GatewayMetricOptions): cloudwatch.Metric;
  /** Requests the router answered or refused (Sum). */
  metricRequests(options?: GatewayMetricOptions): cloudwatch.Metric;
  /** Requests served from either cache tier (Sum). */
  metricCacheHits(options?: GatewayMetricOptions): cloudwatch.Metric;
  /** Requests refused by a quota or policy (429, Sum). */
  metricQuotaRejections(options?: GatewayMetricOptions): cloudwatch.Metric;
  /** Requests a quota, the kill switch or a brownout stage downgraded to a cheaper tier (Sum, gateway-wide). */
  metricQuotaDowngrades(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Alerts of one type: quota_threshold, quota_forecast, quota_spike, quota_brownout or switch_back (Sum). */
  metricQuotaAlerts(alertType: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** The gateway's own time per request, upstream excluded (milliseconds; p99 unless the options say otherwise). */
  metricOverheadMs(options?: GatewayMetricOptions): cloudwatch.Metric;
}

/** A gateway deployed by another stack or app, as its outputs give it. */
export interface LlmGatewayAttributes {
  /** The REST API's id (output `RestApiId`). */
  readonly restApiId: string;
  /** The REST API's name, the dimension of its metrics (output `RestApiName`). */
  readonly restApiName: string;
  /** The router's log group name (output `RouterLogGroupName`). */
  readonly routerLogGroupName: string;
  /**
   * The stage clients call.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Base URL, when the gateway has a custom domain.
   * @default - the API's execute-api URL of the stage, with /v1
   */
  readonly baseUrl?: string;
}

/**
 * What the grants and metrics of a gateway are made of, shared by the gateway made here and an imported one. The
 * router's metrics carry no gateway dimension (namespace LlmFinOps, dimension `service`): two gateways in one account
 * and Region add up in them; the API's metrics are per API name.
 */
export abstract class LlmGatewayBase extends Construct implements ILlmGateway {
  abstract readonly restApiId: string;
  abstract readonly restApiName: string;
  abstract readonly stageName: string;
  abstract readonly baseUrl: string;
  abstract readonly routerLogGroup: logs.ILogGroup;

  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [Stack.of(this).formatArn({ service: 'execute-api', resource: this.restApiId, resourceName: `${this.stageName}/*/*` })],
    });
  }

  metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.apiMetric('5XXError', 'Sum', props);
  }

  metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.apiMetric('4XXError', 'Sum', props);
  }

  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.apiMetric('Latency', 'Average', props);
  }

  metric(metricName: string, options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(metricName, options);
  }

  metricSpendUsd(options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.costUsd, options);
  }

  metricBaselineSpendUsd(options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.baselineCostUsd, options);
  }

  metricRequests(options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.requests, options);
  }

  metricCacheHits(options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.cacheHits, options);
  }

  metricQuotaRejections(options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.quotaRejections, options);
  }

  metricQuotaDowngrades(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.quotaDowngrades, options);
  }

  metricQuotaAlerts(alertType: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return gatewayAlertMetric(alertType, options);
  }

  metricOverheadMs(options?: GatewayMetricOptions): cloudwatch.Metric {
    return gatewayMetric(GATEWAY_METRICS.overheadMs, { statistic: 'p99', ...options });
  }

  /** One of API Gateway's metrics of this API, as aws-cdk-lib's RestApi makes them (namespace AWS/ApiGateway, ApiName). */
  private apiMetric(metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: 'AWS/ApiGateway', metricName, dimensionsMap: { ApiName: this.restApiName }, statistic, ...props }).attachTo(this);
  }
}
